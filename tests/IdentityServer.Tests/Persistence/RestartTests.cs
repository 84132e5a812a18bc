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

    [Fact]
    public async Task Refresh_tokens_and_id_token_hints_issued_under_the_old_issuer_spelling_still_work_after_the_upgrade()
    {
        // Before 2026-11-26 an origin issuer was published with a trailing slash; as a host configured so still does.
        var database = IdentityServerFactory.NewDatabaseName();
        TestClient client;
        string refreshToken, idToken;
        await using (var before = new SharedDatabaseFactory(database, keepDatabase: true))
        {
            before.With("IdentityServer:Issuer", "http://localhost/");
            var tokens = new TokenClient(before);
            client = await tokens.RegisterCodeClientAsync("upgraded-app");
            await tokens.RegisterUserAsync("olga", "olga-password-1");
            var signIn = await tokens.LogInAndRedeemAsync(new BrowserSession(before), client, "olga", "olga-password-1");
            (refreshToken, idToken) = (signIn.Token("refresh_token"), signIn.Token("id_token"));
            Assert.Equal("http://localhost/", ProtocolHelpers.Read(idToken).Issuer);
        }

        await using var after = new SharedDatabaseFactory(database, keepDatabase: false);
        var again = new TokenClient(after);

        var (status, refreshed) = await again.RefreshAsync(client, refreshToken);
        Assert.True(status == HttpStatusCode.OK, $"{status} {refreshed}");
        Assert.Equal("http://localhost", (await again.ValidateAccessTokenAsync(refreshed.Token("access_token"))).Issuer);

        // The old ID token still names its user: a sign-out fetched by script (not a navigation) needs a hint the server
        // accepts as the signed-in user's, and is refused with 400 otherwise.
        var browser = new BrowserSession(after);
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "olga", "olga-password-1");
        async Task<HttpResponseMessage> FetchEndSessionAsync(string hint)
        {
            using var fetched = new HttpRequestMessage(HttpMethod.Get,
                $"/connect/endsession?id_token_hint={hint}&post_logout_redirect_uri={Uri.EscapeDataString(client.PostLogoutRedirectUri)}&state=bye");
            fetched.Headers.Add("Sec-Fetch-Mode", "cors");
            return await browser.Http.SendAsync(fetched);
        }

        using var forged = await FetchEndSessionAsync("not-a-token");
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);   // the browser is signed in, so a hint is checked
        using var endSession = await FetchEndSessionAsync(idToken);
        Assert.StartsWith(client.PostLogoutRedirectUri, endSession.Headers.Location?.ToString() ?? $"{(int)endSession.StatusCode}", StringComparison.Ordinal);
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
