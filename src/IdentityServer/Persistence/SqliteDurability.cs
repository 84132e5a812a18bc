using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace IdentityServer.Persistence;

/// <summary>
/// Sets <c>synchronous=NORMAL</c> on every SQLite connection. In WAL mode (set at migration) this is SQLite's
/// recommended setting: a commit no longer waits for an fsync, which under load was ~5% of a refresh's CPU and one
/// disk flush per stored token. A crash of the process loses nothing; a power cut can lose the last commits before
/// a checkpoint (a rotation the client already saw may then be undone, and the client signs in again).
/// </summary>
/// <remarks>
/// The setting lasts as long as the database handle, and EF Core opens a pooled connection for every command, so the
/// pragma runs once per handle rather than at every open.
/// </remarks>
internal sealed class SqliteDurability : DbConnectionInterceptor
{
    private const string Pragma = "PRAGMA synchronous=NORMAL;";
    private static readonly ConditionalWeakTable<object, object> Configured = [];
    private static readonly object Done = new();

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        if (Handle(connection) is not { } handle)
        {
            return;
        }

        using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        command.ExecuteNonQuery();
        Configured.AddOrUpdate(handle, Done);
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        if (Handle(connection) is not { } handle)
        {
            return;
        }

        await using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        await command.ExecuteNonQueryAsync(cancellationToken);
        Configured.AddOrUpdate(handle, Done);
    }

    /// <summary>The database handle if it has not had the pragma yet (a handle is used by one connection at a time).</summary>
    private static object? Handle(DbConnection connection) =>
        connection is SqliteConnection { Handle: { } handle } && !Configured.TryGetValue(handle, out _) ? handle : null;
}
