using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
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
            await RefuseOutdatedSchemaAsync(cancellationToken);
            return;
        }

        LogMigrated(logger, options.Value.Provider, await MigrateAsync(scopes, cancellationToken));
    }

    /// <summary>Without migrations at start, a schema behind this version would fail at the first query with a
    /// "no such table"; say instead what to run.</summary>
    private async Task RefuseOutdatedSchemaAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
        if (pending.Count > 0)
        {
            throw new InvalidOperationException(
                $"The database schema lacks {pending.Count} migration(s) of this version (the first: {pending[0]}) and Database:MigrateOnStartup is false: run `dotnet IdentityServer.dll migrate` first, or let the server migrate at start.");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <returns>
    /// The latest applied migration, which says where the schema stands whether or not this call moved it. Not asked
    /// before migrating: on a database that does not exist yet (which Migrate creates) that would log a connection error.
    /// </returns>
    public static async Task<string> MigrateAsync(IServiceScopeFactory scopes, CancellationToken cancellationToken)
    {
        // Replicas starting together on an empty database can both begin the same migration; each migration runs
        // in a transaction, so the loser rolls back and, on the next try, finds it applied by the winner.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await MigrateOnceAsync(scopes, cancellationToken);
            }
            catch (System.Data.Common.DbException) when (attempt < 3)
            {
            }
        }
    }

    private static async Task<string> MigrateOnceAsync(IServiceScopeFactory scopes, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
        // Migrate would create a missing PostgreSQL or SQL Server database too, but only after a first connection
        // attempt that EF Core logs as an Error; the creator's own existence check expects that failure.
        var creator = db.GetService<IRelationalDatabaseCreator>();
        var created = !await creator.ExistsAsync(cancellationToken);
        if (created)
        {
            await creator.CreateAsync(cancellationToken);
        }

        if (db.Database.IsNpgsql() && (created || !await HasHistoryTableAsync(db, cancellationToken)))
        {
            // Npgsql's Migrate reads its history table without looking first and logs the "does not exist" of a
            // database without one (new, or holding other tables) as an Error (npgsql/efcore.pg#3407); the table made
            // here, as Migrate would, spares that. Only when it is missing: a database user without CREATE rights may
            // run a schema a DBA applied (deploy/sql makes the history table too).
            await db.Database.ExecuteSqlRawAsync(
                db.GetService<IHistoryRepository>().GetCreateIfNotExistsScript(), cancellationToken);
        }

        await db.Database.MigrateAsync(cancellationToken);
        if (db.Database.IsSqlite())
        {
            // WAL lets readers proceed while a writer commits; the setting sticks to the file.
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }

        return (await db.Database.GetAppliedMigrationsAsync(cancellationToken)).LastOrDefault() ?? "(none)";
    }

    // Asked of the catalog (on the search path, as Migrate looks): Npgsql's own ExistsAsync tries the table and logs
    // the failure as an Error.
    private static async Task<bool> HasHistoryTableAsync(ApplicationDbContext db, CancellationToken cancellationToken) =>
        await db.Database.SqlQuery<bool>(
                $"SELECT to_regclass({"\"" + HistoryRepository.DefaultTableName + "\""}) IS NOT NULL AS \"Value\"")
            .SingleAsync(cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "The database schema is up to date at migration {Latest} ({Provider}).")]
    private static partial void LogMigrated(ILogger logger, DatabaseProvider provider, string latest);
}
