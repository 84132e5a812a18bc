using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace IdentityServer.Persistence;

/// <summary>Brings the schema up to date before anything else touches the database.</summary>
internal sealed partial class DatabaseMigrator(
    IServiceScopeFactory scopes,
    IOptions<DatabaseOptions> options,
    ILogger<DatabaseMigrator> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.MigrateOnStartup)
        {
            return;
        }

        await MigrateAsync(scopes, cancellationToken);
        LogMigrated(logger, options.Value.Provider);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public static async Task MigrateAsync(IServiceScopeFactory scopes, CancellationToken cancellationToken)
    {
        // Replicas starting together on an empty database can both begin the same migration; each migration runs
        // in a transaction, so the loser rolls back and, on the next try, finds it applied by the winner.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await MigrateOnceAsync(scopes, cancellationToken);
                return;
            }
            catch (System.Data.Common.DbException) when (attempt < 3)
            {
            }
        }
    }

    private static async Task MigrateOnceAsync(IServiceScopeFactory scopes, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
        await db.Database.MigrateAsync(cancellationToken);
        if (db.Database.IsSqlite())
        {
            // WAL lets readers proceed while a writer commits; the setting sticks to the file.
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Database schema is up to date ({Provider}).")]
    private static partial void LogMigrated(ILogger logger, DatabaseProvider provider);
}
