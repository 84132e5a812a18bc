using IdentityServer.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace IdentityServer.Tests.Persistence;

/// <summary>SQLite commits without waiting for a disk flush (WAL + synchronous=NORMAL), on every pooled connection.</summary>
public sealed class SqliteDurabilityTests : IDisposable
{
    private readonly string file = Path.Combine(Path.GetTempPath(), $"durability-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task Every_connection_a_context_opens_uses_synchronous_normal_including_reused_pooled_ones()
    {
        var options = new DbContextOptionsBuilder<SqliteApplicationDbContext>()
            .UseSqlite($"Data Source={file};Pooling=True")
            .AddInterceptors(new SqliteDurability())
            .Options;

        for (var open = 0; open < 3; open++)
        {
            await using var db = new SqliteApplicationDbContext(options);
            await db.Database.OpenConnectionAsync();
            await using var command = db.Database.GetDbConnection().CreateCommand();
            command.CommandText = "PRAGMA synchronous;";

            Assert.Equal(1L, await command.ExecuteScalarAsync()); // 1 = NORMAL (the default is 2 = FULL)
        }
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        File.Delete(file);
    }
}
