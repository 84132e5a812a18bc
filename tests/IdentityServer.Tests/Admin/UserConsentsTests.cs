using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Admin;

/// <summary>An admin reading a user's remembered consents and revoking one, as in Keycloak's consents of a user.</summary>
public sealed class UserConsentsTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Revoking_a_consent_lists_it_no_more_ends_the_apps_tokens_and_asks_the_user_again()
    {
        var client = await tokens.RegisterCodeClientAsync("consents-revoked", consentType: "explicit");
        var userId = await tokens.RegisterUserAsync("grace", "grace-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "grace", "grace-password-1");
        var code = await OAuthFlows.CodeFromAsync(await browser.ClickAsync("accept"), client);
        var (_, body) = await tokens.RedeemCodeAsync(client, code, pkce);

        var (listed, consents) = await tokens.AdminAsync(HttpMethod.Get, $"/admin/users/{userId}/consents");
        Assert.Equal(HttpStatusCode.OK, listed);
        var consent = Assert.Single(consents.EnumerateArray());
        Assert.Equal("consents-revoked", consent.GetProperty("clientId").GetString());
        Assert.Contains("openid", consent.GetProperty("scopes").EnumerateArray().Select(scope => scope.GetString()));
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, consent.GetProperty("givenAt").ValueKind);

        var (revoked, _) = await tokens.AdminAsync(HttpMethod.Delete, $"/admin/users/{userId}/consents/consents-revoked");

        Assert.Equal(HttpStatusCode.NoContent, revoked);
        Assert.Empty((await tokens.AdminAsync(HttpMethod.Get, $"/admin/users/{userId}/consents")).Body.EnumerateArray());
        ProtocolHelpers.AssertOAuthError(await tokens.RefreshAsync(client, body.Token("refresh_token")), HttpStatusCode.BadRequest, "invalid_grant");
        Assert.False((await tokens.IntrospectAsync(body.Token("access_token"), client.ClientId, client.Secret!)).GetProperty("active").GetBoolean());
        // Still signed in at the server, the user is asked again.
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()));
        Assert.NotNull(browser.Page!.GetElementById("accept"));
    }

    [Fact]
    public async Task Another_apps_consent_and_tokens_stay_when_one_is_revoked()
    {
        var kept = await tokens.RegisterCodeClientAsync("consents-kept", consentType: "explicit");
        var dropped = await tokens.RegisterCodeClientAsync("consents-dropped", consentType: "explicit");
        var userId = await tokens.RegisterUserAsync("heidi", "heidi-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(kept, pkce), "heidi", "heidi-password-1");
        var (_, body) = await tokens.RedeemCodeAsync(kept, await OAuthFlows.CodeFromAsync(await browser.ClickAsync("accept"), kept), pkce);
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(dropped, Pkce.Create()));
        await OAuthFlows.CodeFromAsync(await browser.ClickAsync("accept"), dropped);

        await tokens.AdminAsync(HttpMethod.Delete, $"/admin/users/{userId}/consents/consents-dropped");

        var consent = Assert.Single((await tokens.AdminAsync(HttpMethod.Get, $"/admin/users/{userId}/consents")).Body.EnumerateArray());
        Assert.Equal("consents-kept", consent.GetProperty("clientId").GetString());
        Assert.Equal(HttpStatusCode.OK, (await tokens.RefreshAsync(kept, body.Token("refresh_token"))).Status);
    }

    [Fact]
    public async Task An_unknown_user_or_client_is_404()
    {
        var userId = await tokens.RegisterUserAsync("ivan", "ivan-password-1");

        Assert.Equal(HttpStatusCode.NotFound, (await tokens.AdminAsync(HttpMethod.Get, $"/admin/users/{Guid.NewGuid()}/consents")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await tokens.AdminAsync(HttpMethod.Delete, $"/admin/users/{Guid.NewGuid()}/consents/admin-cli")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await tokens.AdminAsync(HttpMethod.Delete, $"/admin/users/{userId}/consents/no-such-client")).Status);
    }
}
