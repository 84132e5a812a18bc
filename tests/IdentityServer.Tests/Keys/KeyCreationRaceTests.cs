using System.Net;
using IdentityServer.Keys;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Keys;

public sealed class KeyCreationRaceTests
{
    [Fact]
    public async Task Two_instances_starting_together_on_an_empty_database_create_one_key_of_each_use_and_accept_each_others_refresh_tokens()
    {
        var databaseName = IdentityServerFactory.NewDatabaseName();
        await using var first = new SharedDatabaseFactory(databaseName, keepDatabase: false);
        await using var second = new SharedDatabaseFactory(databaseName, keepDatabase: true);

        // Both hosts start (migrate, then create keys) at the same time.
        await Task.WhenAll(Task.Run(() => first.CreateClient()), Task.Run(() => second.CreateClient()));

        await using var scope = first.Services.CreateAsyncScope();
        var keys = await scope.ServiceProvider.GetRequiredService<ApplicationDbContext>().SigningKeys.AsNoTracking().ToListAsync();
        Assert.Single(keys, k => k.Use == KeyUses.Signing);
        Assert.Single(keys, k => k.Use == KeyUses.HmacSigning);
        Assert.Single(keys, k => k.Use == KeyUses.KeyWrap);
        Assert.Equal(3, keys.Count);

        var jwksA = await first.CreateClient().GetStringAsync("/.well-known/jwks");
        var jwksB = await second.CreateClient().GetStringAsync("/.well-known/jwks");
        Assert.Equal(jwksA, jwksB);

        // The symmetric keys are shared too: what one instance protected, the other reads.
        var tokensA = new TokenClient(first);
        var tokensB = new TokenClient(second);
        var client = await tokensA.RegisterCodeClientAsync("two-instances");
        await tokensA.RegisterUserAsync("ivy", "ivy-password-1");
        var issuedByA = await tokensA.LogInAndRedeemAsync(new BrowserSession(first), client, "ivy", "ivy-password-1");
        var (status, refreshedAtB) = await tokensB.RefreshAsync(client, issuedByA.Token("refresh_token"));
        Assert.True(status == HttpStatusCode.OK, $"refresh at the other instance failed: {status} {refreshedAtB}");
        Assert.Equal(HttpStatusCode.OK, (await tokensA.RefreshAsync(client, refreshedAtB.Token("refresh_token"))).Status);
    }

    private sealed class SharedDatabaseFactory(string databaseName, bool keepDatabase) : IdentityServerFactory(databaseName)
    {
        protected override bool KeepDatabase => keepDatabase;
    }
}
