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
}
