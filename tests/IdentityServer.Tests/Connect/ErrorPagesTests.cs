using System.Net;
using AngleSharp.Html.Parser;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class ErrorPagesTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task An_authorization_request_from_an_unknown_app_shows_the_person_a_page_saying_why()
    {
        var client = new TestClient("no-such-app", null, "http://127.0.0.1:7000/no-such-app/callback", "http://127.0.0.1:7000/signed-out");

        using var response = await factory.CreateClient(new() { AllowAutoRedirect = false })
            .GetAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()));
        var page = new HtmlParser().ParseDocument(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("invalid_request", page.GetElementById("error")?.TextContent);
        Assert.Contains("client_id", page.GetElementById("error-description")?.TextContent, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sign_out_to_an_unregistered_address_shows_a_page_and_sends_the_browser_nowhere()
    {
        var client = await tokens.RegisterCodeClientAsync("error-page-signout");
        await tokens.RegisterUserAsync("erika", "erika-password-1");
        var browser = new BrowserSession(factory);
        var body = await tokens.LogInAndRedeemAsync(browser, client, "erika", "erika-password-1");

        using var response = await browser.Http.GetAsync(
            $"/connect/endsession?id_token_hint={body.Token("id_token")}&post_logout_redirect_uri={Uri.EscapeDataString("https://evil.example.test/<b>")}&state=s");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("invalid_request", new HtmlParser().ParseDocument(html).GetElementById("error")?.TextContent);
        Assert.DoesNotContain("<b>", html, StringComparison.Ordinal);
    }
}
