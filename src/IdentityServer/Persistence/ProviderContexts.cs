using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace IdentityServer.Persistence;

// One context type per provider, each owning its migrations folder: the pattern EF Core documents
// for "migrations with multiple providers". The model is the same; only the SQL differs.

public sealed class SqliteApplicationDbContext(DbContextOptions<SqliteApplicationDbContext> options)
    : ApplicationDbContext(options)
{
    // SQLite cannot compare or order DateTimeOffset values stored as text; binary ticks sort correctly.
    protected override void ProviderConventions(ModelConfigurationBuilder configurationBuilder) =>
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();

    // Whatever way a SaveChanges ended, the write gate it took is given back when its context goes.
    public override void Dispose()
    {
        SqliteWriteGate.Release(this);
        base.Dispose();
    }

    public override ValueTask DisposeAsync()
    {
        SqliteWriteGate.Release(this);
        return base.DisposeAsync();
    }
}

public sealed class PostgreSqlApplicationDbContext(DbContextOptions<PostgreSqlApplicationDbContext> options)
    : ApplicationDbContext(options);

public sealed class SqlServerApplicationDbContext(DbContextOptions<SqlServerApplicationDbContext> options)
    : ApplicationDbContext(options);

// Design-time factories let `dotnet ef migrations add --context X` build each model without a live server.

internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteApplicationDbContext>
{
    public SqliteApplicationDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteApplicationDbContext>()
            .UseSqlite("Data Source=design.db")
            .UseOpenIddict().Options);
}

internal sealed class PostgreSqlDesignTimeFactory : IDesignTimeDbContextFactory<PostgreSqlApplicationDbContext>
{
    public PostgreSqlApplicationDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgreSqlApplicationDbContext>()
            .UseNpgsql("Host=localhost;Database=design")
            .UseOpenIddict().Options);
}

internal sealed class SqlServerDesignTimeFactory : IDesignTimeDbContextFactory<SqlServerApplicationDbContext>
{
    public SqlServerApplicationDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqlServerApplicationDbContext>()
            .UseSqlServer("Server=localhost;Database=design")
            .UseOpenIddict().Options);
}
