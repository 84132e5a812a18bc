using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace IdentityServer.Persistence;

/// <summary>
/// Sets <c>synchronous=NORMAL</c> on every SQLite connection. In WAL mode (set at migration) this is SQLite's
/// recommended setting: a commit no longer waits for an fsync, which under load was ~5% of a refresh's CPU and one
/// disk flush per stored token. A crash of the process loses nothing; a power cut can lose the last commits before
/// a checkpoint (a rotation the client already saw may then be undone, and the client signs in again).
/// </summary>
internal sealed class SqliteDurability : DbConnectionInterceptor
{
    private const string Pragma = "PRAGMA synchronous=NORMAL;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
