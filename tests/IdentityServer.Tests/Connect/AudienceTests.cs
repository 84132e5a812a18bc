using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class AudienceTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task An_access_token_for_openid_scopes_alone_still_names_an_audience()
    {
        var client = await tokens.RegisterCodeClientAsync("aud-app");
        await tokens.RegisterUserAsync("aud-user", "aud-password-1");

        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "aud-user", "aud-password-1", scope: "openid profile");

        var jwt = await tokens.ValidateAccessTokenAsync(body.GetProperty("access_token").GetString()!, audience: "identityserver");
        Assert.Equal("openid profile", jwt.GetClaim("scope").Value);
    }

    [Fact]
    public async Task Client_credentials_without_a_scope_gets_every_scope_the_client_may_use()
    {
        await tokens.RegisterScopeAsync("reports", "reports-api");
        var secret = await tokens.RegisterClientAsync(new { clientId = "no-scope-worker", grantTypes = new[] { "client_credentials" }, scopes = new[] { "reports" } });

        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, "no-scope-worker", secret);

        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        var jwt = await tokens.ValidateAccessTokenAsync(body.GetProperty("access_token").GetString()!, audience: "reports-api");
        Assert.Equal("reports", jwt.GetClaim("scope").Value);
    }

    [Fact]
    public async Task Client_credentials_without_a_scope_leaves_out_the_user_scopes_so_no_id_token_or_refresh_token_comes_back()
    {
        await tokens.RegisterScopeAsync("ledger", "ledger-api");
        var secret = await tokens.RegisterClientAsync(new
        {
            clientId = "mixed-worker",
            grantTypes = new[] { "client_credentials", "authorization_code" },
            redirectUris = new[] { "https://mixed.example/cb" },
            scopes = new[] { "openid", "profile", "offline_access", "ledger" },
        });

        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, "mixed-worker", secret);

        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        Assert.False(body.TryGetProperty("id_token", out _), body.ToString());
        Assert.False(body.TryGetProperty("refresh_token", out _), body.ToString());
        var jwt = await tokens.ValidateAccessTokenAsync(body.GetProperty("access_token").GetString()!, audience: "ledger-api");
        Assert.Equal("ledger", jwt.GetClaim("scope").Value);
    }

    [Theory]
    [InlineData("openid")]
    [InlineData("offline_access")]
    public async Task Client_credentials_asking_for_a_user_scope_gets_invalid_scope(string userScope)
    {
        var clientId = "asking-worker-" + userScope;
        var apiScope = "journal-" + userScope;
        await tokens.RegisterScopeAsync(apiScope, "journal-api");
        var secret = await tokens.RegisterClientAsync(new
        {
            clientId,
            grantTypes = new[] { "client_credentials", "authorization_code" },
            redirectUris = new[] { "https://asking.example/cb" },
            scopes = new[] { userScope, apiScope },
        });

        var (status, body) = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = userScope + " " + apiScope }, clientId, secret);

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_scope", body.GetProperty("error").GetString());
    }
}
