using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Persistence;

/// <summary>Everything a host writes survives it: a second host on the same database carries on where it stopped.</summary>
public sealed class RestartTests
{
    [Fact]
    public async Task A_second_host_on_the_same_database_keeps_users_clients_keys_and_refresh_tokens()
    {
        var database = IdentityServerFactory.NewDatabaseName();
        TestClient client;
        string userId;
        string refreshToken;
        string[] kidsBefore;

        await using (var first = new SharedDatabaseFactory(database, keepDatabase: true))
        {
            var tokens = new TokenClient(first);
            client = await tokens.RegisterCodeClientAsync("survivor-app");
            userId = await tokens.RegisterUserAsync("carol", "carol-password-1");
            var signIn = await tokens.LogInAndRedeemAsync(new BrowserSession(first), client, "carol", "carol-password-1");
            refreshToken = signIn.GetProperty("refresh_token").GetString()!;
            kidsBefore = await SigningKeyIdsAsync(tokens);
        }

        await using var second = new SharedDatabaseFactory(database, keepDatabase: false);
        var again = new TokenClient(second);

        // Keys were read back from the database, not generated anew.
        var kidsAfter = await SigningKeyIdsAsync(again);
        Assert.NotEmpty(kidsBefore);
        Assert.Equal(kidsBefore, kidsAfter);

        // The refresh token the first host issued is still good here.
        var (status, refreshed) = await again.RefreshAsync(client, refreshToken);
        Assert.True(status == HttpStatusCode.OK, $"refresh at the second host failed: {status} {refreshed}");
        var access = await again.ValidateAccessTokenAsync(refreshed.GetProperty("access_token").GetString()!);
        Assert.Equal(userId, access.Subject);
        Assert.Contains(access.Kid, kidsBefore);

        // The user can log in, through the client registered at the first host.
        var signInAgain = await again.LogInAndRedeemAsync(new BrowserSession(second), client, "carol", "carol-password-1");
        var accessAgain = await again.ValidateAccessTokenAsync(signInAgain.GetProperty("access_token").GetString()!);
        Assert.Equal(userId, accessAgain.Subject);
        Assert.Equal("survivor-app", accessAgain.GetClaim("client_id").Value);
    }

    private static async Task<string[]> SigningKeyIdsAsync(TokenClient tokens)
    {
        using var response = await tokens.Http.GetAsync("/.well-known/jwks");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var jwks = await TokenClient.ReadJsonAsync(response);
        return [.. jwks.GetProperty("keys").EnumerateArray()
            .Select(key => key.GetProperty("kid").GetString()!)
            .Order(StringComparer.Ordinal)];
    }

    private sealed class SharedDatabaseFactory(string databaseName, bool keepDatabase) : IdentityServerFactory(databaseName)
    {
        protected override bool KeepDatabase => keepDatabase;
    }
}
