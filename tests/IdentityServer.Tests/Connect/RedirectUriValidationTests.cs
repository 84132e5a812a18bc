using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class RedirectUriValidationTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private static async Task AssertErrorPageWithoutRedirect(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("evil.example", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unregistered_redirect_uri_gets_an_error_page_and_never_a_redirect_there()
    {
        var client = await tokens.RegisterCodeClientAsync("redirect-strict");
        var browser = new BrowserSession(factory);

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client with { RedirectUri = "https://evil.example/callback" }, Pkce.Create()));

        await AssertErrorPageWithoutRedirect(response);
    }

    [Fact]
    public async Task A_public_clients_loopback_redirect_uri_registered_without_a_port_is_not_matched_on_another_port()
    {
        // The contract matches redirect URIs exactly (OpenIddict would let a native app's loopback URI take any port).
        await tokens.RegisterClientAsync(new
        {
            clientId = "loopback-no-port", clientType = "public", grantTypes = new[] { "authorization_code" },
            redirectUris = new[] { "http://127.0.0.1/callback" }, scopes = new[] { "openid" },
        });
        var client = new TestClient("loopback-no-port", null, "http://127.0.0.1:4444/callback", "");

        var response = await new BrowserSession(factory).GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), scope: "openid"));

        await AssertErrorPageWithoutRedirect(response);
    }

    [Fact]
    public async Task A_redirect_uri_that_only_starts_like_the_registered_one_is_refused()
    {
        var client = await tokens.RegisterCodeClientAsync("redirect-prefix");
        var browser = new BrowserSession(factory);

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client with { RedirectUri = client.RedirectUri + "/../evil.example" }, Pkce.Create()));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task An_unknown_client_id_gets_an_error_page_and_never_a_redirect()
    {
        var unknown = new TestClient("no-such-client", null, "https://evil.example/callback", "https://evil.example/out");
        var browser = new BrowserSession(factory);

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(unknown, Pkce.Create()));

        await AssertErrorPageWithoutRedirect(response);
    }

    [Fact]
    public async Task Even_a_signed_in_user_is_not_redirected_to_an_unregistered_uri()
    {
        var client = await tokens.RegisterCodeClientAsync("redirect-signed-in");
        await tokens.RegisterUserAsync("zack", "zack-password-1");
        var browser = new BrowserSession(factory);
        await tokens.LogInAndRedeemAsync(browser, client, "zack", "zack-password-1");

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client with { RedirectUri = "https://evil.example/callback" }, Pkce.Create()));

        await AssertErrorPageWithoutRedirect(response);
    }

    [Fact]
    public async Task The_login_page_ignores_a_return_url_off_this_server()
    {
        await tokens.RegisterUserAsync("zoe", "zoe-password-1");
        var browser = new BrowserSession(factory);
        await browser.GoAsync("/account/login?ReturnUrl=https%3A%2F%2Fevil.example%2F");

        var response = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "zoe", ["password"] = "zoe-password-1" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("localhost", browser.PageUri!.Host);
        Assert.Equal("/", browser.PageUri.AbsolutePath);
    }

    [Fact]
    public async Task The_login_page_follows_a_return_url_with_spaces_or_characters_beyond_ascii_percent_encoded()
    {
        await tokens.RegisterUserAsync("zelie", "zelie-password-1");
        var browser = new BrowserSession(factory);
        await browser.GoAsync("/account/login?ReturnUrl=" + Uri.EscapeDataString("/?from=café\u2028 x"));

        var response = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "zelie", ["password"] = "zelie-password-1" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/", browser.PageUri!.AbsolutePath);
        Assert.Equal("?from=caf%C3%A9%E2%80%A8%20x", browser.PageUri.Query);
    }
}
