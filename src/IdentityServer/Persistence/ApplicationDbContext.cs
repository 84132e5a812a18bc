using IdentityServer.Admin;
using IdentityServer.Keys;
using IdentityServer.Users;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace IdentityServer.Persistence;

/// <summary>
/// One database for users (ASP.NET Core Identity), OpenIddict's clients, scopes, authorizations and tokens,
/// signing keys, Data Protection keys and the audit trail. Each provider derives its own context so that
/// its migrations live apart (see <see cref="SqliteApplicationDbContext"/> and siblings).
/// </summary>
public abstract class ApplicationDbContext(DbContextOptions options)
    : IdentityDbContext<ApplicationUser>(options), IDataProtectionKeyContext
{
    public DbSet<SigningKey> SigningKeys { get; set; } = null!;

    public DbSet<AuditEvent> AuditEvents { get; set; } = null!;

    public DbSet<DataProtectionKey> DataProtectionKeys { get; set; } = null!;

    public DbSet<EndedSession> EndedSessions { get; set; } = null!;

    public DbSet<SessionClient> SessionClients { get; set; } = null!;

    public DbSet<Connect.RegistrationVersion> RegistrationVersions { get; set; } = null!;

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.UseOpenIddict();

        // Deleting a user revokes its tokens and authorizations by subject alone; OpenIddict's own indexes lead
        // with the application, so without these that is a full scan.
        builder.Entity<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreToken>()
            .HasIndex(t => t.Subject);
        builder.Entity<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreAuthorization>()
            .HasIndex(a => a.Subject);

        builder.Entity<ApplicationUser>(user =>
        {
            user.Property(u => u.Enabled).HasDefaultValue(true);
            user.HasIndex(u => u.CreatedAt);
            // People sign in with their email: two registrations racing past the uniqueness check must not both land
            // (the validator reads before it writes). Identity makes this index unique only with RequireUniqueEmail,
            // which would also make the address mandatory. Absent emails (NULL) do not collide.
            user.HasIndex(u => u.NormalizedEmail).HasDatabaseName("EmailIndex").IsUnique();
        });

        builder.Entity<EndedSession>(session =>
        {
            session.ToTable("EndedSessions");
            session.HasKey(s => s.Id);
            session.Property(s => s.Id).HasMaxLength(64);
            session.HasIndex(s => s.EndedAt);
        });

        builder.Entity<SessionClient>(signedIn =>
        {
            signedIn.ToTable("SessionClients");
            // Non-clustered on SQL Server: the two columns (the client's id is nvarchar(450), as OpenIddict's key it refers
            // to) may exceed a clustered key's 900 bytes, though real ids are short.
            signedIn.HasKey(s => new { s.SessionId, s.ApplicationId }).IsClustered(false);
            signedIn.Property(s => s.SessionId).HasMaxLength(64);
            signedIn.Property(s => s.Subject).HasMaxLength(450);
            signedIn.Property(s => s.Issuer).HasMaxLength(2000);
            // A deleted client has no one left to tell.
            signedIn.HasOne<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreApplication>().WithMany()
                .HasForeignKey(s => s.ApplicationId).OnDelete(DeleteBehavior.Cascade);
            signedIn.HasIndex(s => s.Subject);
            signedIn.HasIndex(s => s.LastSeenAt);
        });

        builder.Entity<SigningKey>(key =>
        {
            key.ToTable("SigningKeys");
            key.HasKey(k => k.Id);
            key.Property(k => k.Id).HasMaxLength(64);
            key.Property(k => k.Use).HasMaxLength(8);
            key.Property(k => k.Algorithm).HasMaxLength(16);
            key.HasIndex(k => new { k.Use, k.RetiresAt });
        });

        builder.Entity<Connect.RegistrationVersion>(version =>
        {
            version.ToTable("RegistrationVersion");
            version.HasKey(v => v.Id);
            version.Property(v => v.Id).ValueGeneratedNever();
            // The row exists from the migration on: a change only counts it up.
            version.HasData(new Connect.RegistrationVersion { Id = Connect.RegistrationVersion.RowId, Version = 0 });
        });

        builder.Entity<AuditEvent>(audit =>
        {
            audit.ToTable("AuditEvents");
            audit.Property(a => a.Actor).HasMaxLength(256);
            audit.Property(a => a.Action).HasMaxLength(64);
            audit.Property(a => a.Target).HasMaxLength(256);
            audit.HasIndex(a => a.OccurredAt);
            // GET /admin/audit filters by these.
            audit.HasIndex(a => new { a.Action, a.Id });
            audit.HasIndex(a => new { a.Target, a.Id });
            audit.HasIndex(a => new { a.Actor, a.Id });
        });
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        base.ConfigureConventions(configurationBuilder);
        ProviderConventions(configurationBuilder);
    }

    /// <summary>Lets a provider map types it cannot store natively (SQLite has no DateTimeOffset ordering).</summary>
    protected virtual void ProviderConventions(ModelConfigurationBuilder configurationBuilder)
    {
    }
}
