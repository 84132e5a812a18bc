using System.Diagnostics;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace IdentityServer.Tests.Persistence;

/// <summary>The real executable, as an operator runs it: <c>IdentityServer migrate</c> updates the schema and exits.</summary>
public sealed class MigrateCommandTests
{
    [Fact]
    public async Task Migrate_applies_every_migration_and_exits_without_serving()
    {
        await using var target = new IdentityServerFactory();   // only for a fresh connection string of the run's provider
        var app = Path.Combine(AppContext.BaseDirectory, "IdentityServer.dll");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(app);
        start.ArgumentList.Add("migrate");
        start.Environment["Database__Provider"] = IdentityServerFactory.Provider.ToString();
        start.Environment["ConnectionStrings__IdentityServer"] = target.ConnectionString;
        start.Environment["Database__MigrateOnStartup"] = "false";   // the command migrates regardless
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["Logging__Console__FormatterName"] = "simple";

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            // A server would never exit: the bound turns that into a failure rather than a hung run.
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"`migrate` did not exit. Output: {await stdout}");
        }

        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {output}");
        Assert.Contains("schema is up to date at migration", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", output, StringComparison.Ordinal);

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

    private static ApplicationDbContext CreateContext(string connectionString) => IdentityServerFactory.Provider switch
    {
        DatabaseProvider.PostgreSql => new PostgreSqlApplicationDbContext(new DbContextOptionsBuilder<PostgreSqlApplicationDbContext>()
            .UseNpgsql(connectionString).UseOpenIddict().Options),
        _ => new SqliteApplicationDbContext(new DbContextOptionsBuilder<SqliteApplicationDbContext>()
            .UseSqlite(connectionString).UseOpenIddict().Options),
    };
}
