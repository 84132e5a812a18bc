using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Hosting;

public sealed class SecurityHeadersTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    [Theory]
    [InlineData("/account/login")]
    [InlineData("/account/register")]
    [InlineData("/account/signout?post_logout_redirect_uri=x")]
    public async Task Pages_cannot_be_framed_sniffed_or_leak_the_referrer_and_allow_only_own_scripts(string path)
    {
        var client = factory.CreateClient();

        using var response = await client.GetAsync(path);

        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answers_with_secrets_or_personal_data_tell_caches_not_to_store_them()
    {
        var tokens = new TokenClient(factory);
        var admin = new IdentityServer.Tests.Admin.AdminApi(factory);
        var client = await tokens.RegisterCodeClientAsync("no-store-check");
        await tokens.RegisterUserAsync("nora-no-store", "nora-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "nora-no-store", "nora-password-1");
        var http = factory.CreateClient();

        var created = await admin.PostAsync("/admin/clients", new { clientId = "no-store-worker", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });
        using var userinfo = new HttpRequestMessage(HttpMethod.Get, "/connect/userinfo");
        userinfo.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", body.Token("access_token"));
        using var userinfoResponse = await http.SendAsync(userinfo);
        using var introspection = new HttpRequestMessage(HttpMethod.Post, "/connect/introspect")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = body.Token("access_token") }),
        };
        introspection.Headers.Authorization = TokenClient.Basic(client.ClientId, client.Secret!);
        using var introspectionResponse = await http.SendAsync(introspection);

        Assert.Contains("no-store", created.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
        Assert.True(userinfoResponse.Headers.CacheControl?.NoStore, userinfoResponse.Headers.ToString());
        Assert.True(introspectionResponse.Headers.CacheControl?.NoStore, introspectionResponse.Headers.ToString());
    }

    [Fact]
    public async Task Over_plain_http_on_loopback_the_session_cookie_is_http_only_and_same_site_lax()
    {
        var tokens = new TokenClient(factory);
        var client = await tokens.RegisterCodeClientAsync("cookie-check");
        await tokens.RegisterUserAsync("cookie-user", "cookie-password-1");
        var browser = new BrowserSession(factory);
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()));

        using var login = await browser.Http.PostAsync("/account/login?ReturnUrl=%2F", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Username"] = "cookie-user",
            ["Password"] = "cookie-password-1",
            ["__RequestVerificationToken"] = browser.Page!.QuerySelector("input[name=__RequestVerificationToken]")!.GetAttribute("value")!,
        }));

        var session = login.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("idsrv.session=", StringComparison.Ordinal));
        Assert.Contains("httponly", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", session, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Over_https_the_session_cookie_is_secure_and_goes_with_cross_site_requests_for_silent_renewal()
    {
        // An app on another site renews with prompt=none in a hidden iframe: a Lax cookie would be left off there.
        await new TokenClient(factory).RegisterUserAsync("cookie-user-tls", "cookie-password-1");
        var client = factory.CreateClient(new() { BaseAddress = new Uri("https://localhost/"), AllowAutoRedirect = false, HandleCookies = true });
        var page = await client.GetStringAsync("/account/login");
        var antiforgery = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"").Groups[1].Value;

        using var login = await client.PostAsync("/account/login?ReturnUrl=%2F", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Username"] = "cookie-user-tls",
            ["Password"] = "cookie-password-1",
            ["__RequestVerificationToken"] = antiforgery,
        }));

        var session = login.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("idsrv.session=", StringComparison.Ordinal));
        Assert.Contains("samesite=none", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("secure", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", session, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Over_https_the_anti_forgery_cookie_is_secure()
    {
        var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("https://localhost/account/login"));

        var antiforgery = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(".AspNetCore.Antiforgery", StringComparison.Ordinal));
        Assert.Contains("secure", antiforgery, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", antiforgery, StringComparison.OrdinalIgnoreCase);
    }
}
