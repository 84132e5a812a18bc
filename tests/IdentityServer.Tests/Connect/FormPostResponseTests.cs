using System.Net;
using AngleSharp.Dom;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

/// <summary><c>response_mode=form_post</c>: the answer reaches the app as a form the browser posts to its redirect URI.</summary>
public sealed class FormPostResponseTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private static Dictionary<string, string> FormPost() => new() { ["response_mode"] = "form_post" };

    [Fact]
    public async Task After_signing_in_the_browser_gets_a_page_that_posts_the_code_and_state_to_the_redirect_uri()
    {
        var client = await tokens.RegisterCodeClientAsync("form-post-code");
        await tokens.RegisterUserAsync("fatima-form-post", "fatima-password-1");
        var pkce = Pkce.Create();
        var browser = new BrowserSession(factory);

        var response = await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce, state: "posted", extra: FormPost()), "fatima-form-post", "fatima-password-1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var form = browser.Page!.GetElementById("form-post")!;
        Assert.Equal("post", form.GetAttribute("method"));
        Assert.Equal(client.RedirectUri, form.GetAttribute("action"));
        var fields = Fields(form);
        Assert.Equal("posted", fields["state"]);
        Assert.Equal("http://localhost", fields["iss"]);
        Assert.Equal(HttpStatusCode.OK, (await tokens.RedeemCodeAsync(client, fields["code"], pkce)).Status);
    }

    [Fact]
    public async Task The_page_works_without_javascript_and_runs_no_inline_script()
    {
        var client = await tokens.RegisterCodeClientAsync("form-post-page");
        await tokens.RegisterUserAsync("felix-form-post", "felix-password-1");
        var browser = new BrowserSession(factory);

        var response = await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: FormPost()), "felix-form-post", "felix-password-1");

        var page = browser.Page!;
        Assert.Equal("Returning to the app · IdentityServer", page.Title);
        Assert.Equal("submit", page.GetElementById("continue")!.GetAttribute("type"));
        Assert.Equal("/js/form-post.js", Assert.Single(page.Scripts).Source);
        Assert.Contains("script-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
        using var script = await factory.CreateClient().GetAsync("/js/form-post.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Contains("form-post", await script.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_error_for_the_client_is_posted_the_same_way()
    {
        var client = await tokens.RegisterCodeClientAsync("form-post-error");
        var browser = new BrowserSession(factory);
        var extra = FormPost();
        extra["prompt"] = "none";

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), state: "quiet", extra: extra));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var form = browser.Page!.GetElementById("form-post")!;
        Assert.Equal(client.RedirectUri, form.GetAttribute("action"));
        var fields = Fields(form);
        Assert.Equal("login_required", fields["error"]);
        Assert.Equal("quiet", fields["state"]);
        Assert.False(fields.ContainsKey("code"));
    }

    private static Dictionary<string, string> Fields(IElement form) =>
        form.QuerySelectorAll("input[type=hidden]").ToDictionary(input => input.GetAttribute("name")!, input => input.GetAttribute("value")!);
}
