using System.Net;
using System.Net.Sockets;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace IdentityServer.Tests.Persistence;

/// <summary>The real executable, as an operator runs it: <c>IdentityServer migrate</c> updates the schema and exits.</summary>
public sealed class MigrateCommandTests
{
    [Fact]
    public async Task Migrate_creates_the_database_applies_every_migration_without_an_error_and_exits_without_serving()
    {
        await using var target = new IdentityServerFactory();   // only for a fresh connection string of the run's provider

        var (exitCode, output) = await RunMigrateAsync(IdentityServerFactory.Provider.ToString(), target.ConnectionString);

        Assert.True(exitCode == 0, $"exit code {exitCode}: {output}");
        Assert.Contains("schema is up to date at migration", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", output, StringComparison.Ordinal);
        // A database that does not exist yet is the normal first run, not an error an operator should chase.
        Assert.DoesNotContain("\"LogLevel\":\"Error\"", output, StringComparison.Ordinal);
        Assert.DoesNotContain("fail:", output, StringComparison.Ordinal);

        await using var db = CreateContext(target.ConnectionString);
        try
        {
            Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync());
            Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        }
        finally
        {
            if (IdentityServerFactory.Provider == DatabaseProvider.PostgreSql)
            {
                await db.Database.EnsureDeletedAsync();
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
    }

    [Fact]
    public async Task Migrate_into_a_database_that_already_holds_another_apps_tables_applies_every_migration_without_an_error()
    {
        await using var target = new IdentityServerFactory();
        await using var db = CreateContext(target.ConnectionString);
        try
        {
            // A database shared with another app: it exists and has tables, none of them ours.
            await db.GetService<IRelationalDatabaseCreator>().CreateAsync();
            await db.Database.ExecuteSqlRawAsync("CREATE TABLE other_app_orders (id integer PRIMARY KEY)");

            var (exitCode, output) = await RunMigrateAsync(IdentityServerFactory.Provider.ToString(), target.ConnectionString);

            Assert.True(exitCode == 0, $"exit code {exitCode}: {output}");
            Assert.DoesNotContain("\"LogLevel\":\"Error\"", output, StringComparison.Ordinal);
            Assert.DoesNotContain("fail:", output, StringComparison.Ordinal);
            Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync());
        }
        finally
        {
            if (IdentityServerFactory.Provider == DatabaseProvider.PostgreSql)
            {
                await db.Database.EnsureDeletedAsync();
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
    }

    [Fact]
    public async Task Migrate_on_SQL_Server_gets_as_far_as_the_network()
    {
        // No SQL Server runs here: a closed local port shows that the client got past its own checks (it refuses to
        // open any connection when the runtime has no globalization data) and failed only on reaching the server.
        int closedPort;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var (exitCode, output) = await RunMigrateAsync("SqlServer",
            $"Server=127.0.0.1,{closedPort};Database=identityserver;User Id=sa;Password=unused;TrustServerCertificate=True;Connect Timeout=2");

        Assert.Equal(1, exitCode);
        Assert.Contains("Migrating the database failed", output, StringComparison.Ordinal);
        Assert.Contains("A network-related or instance-specific error occurred", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Invariant", output, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Output)> RunMigrateAsync(string provider, string connectionString)
    {
        var (exitCode, output, error) = await ServerProcess.RunToExitAsync(["migrate"], new Dictionary<string, string>
        {
            ["Database__Provider"] = provider,
            ["ConnectionStrings__IdentityServer"] = connectionString,
            ["Database__MigrateOnStartup"] = "false",   // the command migrates regardless
        });
        return (exitCode, output + error);
    }

    private static ApplicationDbContext CreateContext(string connectionString) => IdentityServerFactory.Provider switch
    {
        DatabaseProvider.PostgreSql => new PostgreSqlApplicationDbContext(new DbContextOptionsBuilder<PostgreSqlApplicationDbContext>()
            .UseNpgsql(connectionString).UseOpenIddict().Options),
        _ => new SqliteApplicationDbContext(new DbContextOptionsBuilder<SqliteApplicationDbContext>()
            .UseSqlite(connectionString).UseOpenIddict().Options),
    };
}
