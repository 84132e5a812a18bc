using System.Net;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Persistence;

/// <summary>
/// SQLite has one writer: every write waits its turn at the write gate instead of colliding on the file's lock and
/// sleeping in SQLite's busy-retry. That holds for the single-statement writes EF Core sends without SaveChanges too.
/// </summary>
public sealed class SqliteWriteGateTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Counting_a_wrong_password_and_revoking_a_reused_refresh_tokens_chain_wait_their_turn_to_write()
    {
        var (client, refreshToken) = await tokens.SignedInUserAsync(factory, "write-gate-app", "write-gate-user");
        Assert.Equal(HttpStatusCode.OK, (await tokens.RefreshAsync(client, refreshToken)).Status);

        using var counter = new DatabaseCommandCounter(factory);
        var commands = await counter.RecordAsync(async () =>
        {
            await new BrowserSession(factory).SignInAsync("/account/login", "write-gate-user", "not-the-password");
            // The first refresh token again: a reuse, which revokes the whole chain.
            Assert.Equal(HttpStatusCode.BadRequest, (await tokens.RefreshAsync(client, refreshToken)).Status);
        });

        var writes = commands.Where(IsWrite).ToList();
        Assert.Contains(writes, command => command.Contains("AccessFailedCount", StringComparison.Ordinal));
        Assert.Contains(writes, command => command.Contains("OpenIddictTokens", StringComparison.Ordinal));
        // PostgreSQL takes concurrent writers itself: no gate there.
        var gated = IdentityServerFactory.Provider == DatabaseProvider.Sqlite;
        Assert.All(writes, command => Assert.Equal(gated, counter.GatedCommands.Contains(command)));
    }

    private static bool IsWrite(string command) =>
        command.TrimStart().Split(' ', 2)[0] is "UPDATE" or "INSERT" or "DELETE";
}
