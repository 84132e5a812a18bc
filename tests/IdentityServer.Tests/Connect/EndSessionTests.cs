using System.Net;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace IdentityServer.Tests.Connect;

public sealed class EndSessionTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private static string EndSessionUrl(string? postLogoutRedirectUri, string? idTokenHint, string? state = "s") =>
        QueryHelpers.AddQueryString("/connect/endsession", new Dictionary<string, string?>
        {
            ["post_logout_redirect_uri"] = postLogoutRedirectUri,
            ["id_token_hint"] = idTokenHint,
            ["state"] = state,
        }.Where(p => p.Value is not null));

    [Fact]
    public async Task Ending_the_session_signs_the_user_out_and_returns_to_the_client_with_its_state()
    {
        var client = await tokens.RegisterCodeClientAsync("endsession-ok");
        await tokens.RegisterUserAsync("ella", "ella-password-1");
        var browser = new BrowserSession(factory);
        var body = await tokens.LogInAndRedeemAsync(browser, client, "ella", "ella-password-1");

        var response = await browser.GoAsync(EndSessionUrl(client.PostLogoutRedirectUri, body.Token("id_token")));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.Equal(client.PostLogoutRedirectUri, location.GetLeftPart(UriPartial.Path));
        Assert.Equal("s", BrowserSession.CallbackParameters(response)["state"]);

        var next = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("login"));
    }

    [Fact]
    public async Task After_ending_the_session_prompt_none_gets_login_required()
    {
        var client = await tokens.RegisterCodeClientAsync("endsession-silent");
        await tokens.RegisterUserAsync("emil", "emil-password-1");
        var browser = new BrowserSession(factory);
        var body = await tokens.LogInAndRedeemAsync(browser, client, "emil", "emil-password-1");
        await browser.GoAsync(EndSessionUrl(client.PostLogoutRedirectUri, body.Token("id_token")));

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "none" }));

        Assert.Equal("login_required", BrowserSession.CallbackParameters(response)["error"]);
    }

    [Fact]
    public async Task An_unregistered_post_logout_redirect_uri_is_never_followed()
    {
        var client = await tokens.RegisterCodeClientAsync("endsession-evil");
        await tokens.RegisterUserAsync("eddy", "eddy-password-1");
        var browser = new BrowserSession(factory);
        var body = await tokens.LogInAndRedeemAsync(browser, client, "eddy", "eddy-password-1");

        var response = await browser.GoAsync(EndSessionUrl("https://evil.example/signed-out", body.Token("id_token")));

        Assert.True((int)response.StatusCode < 500, $"got {(int)response.StatusCode}");
        Assert.False(response.Headers.Location?.Host == "evil.example", $"redirected to {response.Headers.Location}");
        Assert.Equal("localhost", response.RequestMessage!.RequestUri!.Host);
    }

    [Fact]
    public async Task Another_clients_post_logout_redirect_uri_is_refused_with_this_clients_id_token()
    {
        var client = await tokens.RegisterCodeClientAsync("endsession-mine");
        var other = await tokens.RegisterCodeClientAsync("endsession-other");
        await tokens.RegisterUserAsync("elsa", "elsa-password-1");
        var browser = new BrowserSession(factory);
        var body = await tokens.LogInAndRedeemAsync(browser, client, "elsa", "elsa-password-1");

        var response = await browser.GoAsync(EndSessionUrl(other.PostLogoutRedirectUri, body.Token("id_token")));

        Assert.True((int)response.StatusCode < 500, $"got {(int)response.StatusCode}");
        Assert.False(response.Headers.Location?.ToString().StartsWith(other.PostLogoutRedirectUri, StringComparison.Ordinal) == true,
            $"redirected to {response.Headers.Location}");
    }

    [Fact]
    public async Task Without_a_post_logout_redirect_uri_the_user_lands_on_the_signed_out_page()
    {
        var client = await tokens.RegisterCodeClientAsync("endsession-plain");
        await tokens.RegisterUserAsync("enzo", "enzo-password-1");
        var browser = new BrowserSession(factory);
        await tokens.LogInAndRedeemAsync(browser, client, "enzo", "enzo-password-1");

        var response = await browser.GoAsync("/connect/endsession");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/account/signed-out", browser.PageUri!.AbsolutePath);
        var next = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("login"));
    }
}
