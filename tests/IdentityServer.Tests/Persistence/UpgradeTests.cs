using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Persistence;

/// <summary>A database written by an earlier version, upgraded by this one's migrations, on the run's provider.</summary>
public sealed class UpgradeTests
{
    [Fact]
    public async Task Upgrading_a_database_whose_users_have_blank_emails_keeps_every_account_and_clears_the_blanks()
    {
        await using var factory = new IdentityServerFactory();
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
        var migrator = db.GetService<IMigrator>();
        var migrations = db.Database.GetMigrations().ToList();
        var beforeUniqueEmails = migrations[migrations.FindIndex(id => id.EndsWith("_UniqueEmails", StringComparison.Ordinal)) - 1];
        await migrator.MigrateAsync(beforeUniqueEmails);

        // What an earlier version's admin API stored for "email": "" (and a second one, which its index allowed).
        var ids = new[] { Guid.NewGuid().ToString(), Guid.NewGuid().ToString() };
        foreach (var id in ids)
        {
            await db.Database.ExecuteSqlAsync(
                $"INSERT INTO \"AspNetUsers\" (\"Id\", \"UserName\", \"NormalizedUserName\", \"Email\", \"NormalizedEmail\", \"EmailConfirmed\", \"PhoneNumberConfirmed\", \"TwoFactorEnabled\", \"LockoutEnabled\", \"AccessFailedCount\", \"Enabled\", \"CreatedAt\") VALUES ({id}, {id}, {id.ToUpperInvariant()}, {""}, {""}, {false}, {false}, {false}, {true}, {0}, {true}, {DateTimeOffset.UnixEpoch})");
        }

        await migrator.MigrateAsync();

        var upgraded = await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id)).ToListAsync();
        Assert.Equal(2, upgraded.Count);
        Assert.All(upgraded, user => Assert.Null(user.NormalizedEmail));
        Assert.All(upgraded, user => Assert.Null(user.Email));
    }
}
