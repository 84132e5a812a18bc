using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AngleSharp;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IdentityServer.Tests.Hosting;

/// <summary>The server configured with an issuer that has a path, as Keycloak's realms do.</summary>
public sealed class IssuerUnderAPathFactory : IdentityServerFactory
{
    public const string Issuer = "http://localhost/id";

    public IssuerUnderAPathFactory() => With("IdentityServer:Issuer", Issuer);

    public LogoutEndpoints Apps { get; } = new();

    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        Apps.Replace(builder);
    }
}

public sealed class IssuerPathTests(IssuerUnderAPathFactory factory) : IClassFixture<IssuerUnderAPathFactory>
{
    private const string Issuer = IssuerUnderAPathFactory.Issuer;

    private readonly HttpClient http = factory.CreateClient(new() { AllowAutoRedirect = false });

    [Fact]
    public async Task Discovery_is_found_under_the_issuer_path_and_names_every_endpoint_under_it()
    {
        var discovery = await GetJsonAsync("/id/.well-known/openid-configuration");

        Assert.Equal(Issuer, discovery.GetProperty("issuer").GetString());
        foreach (var endpoint in new[] { "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "introspection_endpoint", "revocation_endpoint", "end_session_endpoint", "jwks_uri" })
        {
            Assert.StartsWith(Issuer + "/", discovery.GetProperty(endpoint).GetString(), StringComparison.Ordinal);
        }

        var jwks = await GetJsonAsync(new Uri(discovery.GetProperty("jwks_uri").GetString()!).PathAndQuery);
        Assert.NotEqual(0, jwks.GetProperty("keys").GetArrayLength());
    }

    [Theory]
    [InlineData("/.well-known/oauth-authorization-server/id")]
    [InlineData("/.well-known/oauth-authorization-server/id/")]
    [InlineData("/id/.well-known/oauth-authorization-server")]
    public async Task OAuth_clients_find_the_metadata_where_rfc_8414_puts_it_and_under_the_path(string path)
    {
        var metadata = await GetJsonAsync(path);

        Assert.Equal(Issuer, metadata.GetProperty("issuer").GetString());
        Assert.Equal(Issuer + "/connect/token", metadata.GetProperty("token_endpoint").GetString());
        Assert.Equal(Issuer + "/.well-known/jwks", metadata.GetProperty("jwks_uri").GetString());
    }

    [Theory]
    [InlineData("/.well-known/openid-configuration")]
    [InlineData("/.well-known/oauth-authorization-server")]
    [InlineData("/.well-known/oauth-authorization-server/idx")]
    [InlineData("/.well-known/openid-configuration/id")]
    [InlineData("/connect/authorize?client_id=x")]
    [InlineData("/account/login")]
    [InlineData("/admin/clients")]
    [InlineData("/idx/.well-known/openid-configuration")]
    [InlineData("/ID/.well-known/openid-configuration")]
    public async Task Nothing_is_served_outside_the_issuer_path(string path)
    {
        using var response = await http.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"), "a cookie was set outside the issuer's path");
    }

    [Theory]
    [InlineData("GET", "/health/live")]
    [InlineData("GET", "/health/ready")]
    [InlineData("HEAD", "/health/live")]
    [InlineData("HEAD", "/health/ready")]
    [InlineData("GET", "/id/health/ready")]
    public async Task The_health_probes_answer_at_the_root_and_under_the_path(string method, string path)
    {
        using var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_browser_outside_the_issuer_path_gets_a_page_pointing_to_it()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Accept.ParseAdd("text/html");
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("<a href=\"/id/\">/id/</a>", page, StringComparison.Ordinal);
        Assert.Contains("href=\"/id/css/site.css\"", page, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/other-app/page")]
    [InlineData("/id/../other-app/page")]
    [InlineData("/id/%2e%2e/other-app/page")]
    [InlineData("/id/..\\other-app/page")]
    [InlineData("/id/..%2fother-app/page")]
    [InlineData("/id/..%5Cother-app/page")]
    [InlineData("/idx/page")]
    public async Task After_signing_in_the_browser_is_not_sent_out_of_the_issuer_path(string returnUrl)
    {
        var admin = await ClientCredentialsAsync(IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret, "admin");
        var username = "wanderer-" + Guid.NewGuid().ToString("N")[..8];
        (await AdminPostAsync(admin, "/id/admin/users", new { username, email = $"{username}@example.test", password = "wanderer-password-1", roles = Array.Empty<string>() })).Dispose();
        var browser = new BrowserSession(factory);
        await browser.GoAsync("/id/account/login?ReturnUrl=" + Uri.EscapeDataString(returnUrl));

        var answer = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = username, ["password"] = "wanderer-password-1" });

        Assert.True("/id/" == browser.PageUri!.AbsolutePath, $"{(int)answer.StatusCode} {browser.PageUri} {answer.Headers.Location} {browser.Page?.Body?.TextContent}");
    }

    [Fact]
    public async Task A_person_signs_in_signs_out_and_the_app_gets_tokens_naming_the_issuer_with_its_path()
    {
        var admin = await ClientCredentialsAsync(IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret, "admin");
        var client = new TestClient("path-app", null, "http://127.0.0.1:7000/path-app/callback", "http://127.0.0.1:7000/path-app/signed-out");
        using var created = await AdminPostAsync(admin, "/id/admin/clients", new
        {
            clientId = client.ClientId,
            displayName = "The path app",
            clientType = "confidential",
            redirectUris = new[] { client.RedirectUri },
            postLogoutRedirectUris = new[] { client.PostLogoutRedirectUri },
            grantTypes = new[] { "authorization_code", "refresh_token" },
            scopes = new[] { "openid", "profile", "offline_access" },
            consentType = "implicit",
            backChannelLogoutUri = "http://127.0.0.1:7000/path-app/backchannel-logout",
        });
        Assert.Equal("/id/admin/clients/path-app", created.Headers.Location!.OriginalString);
        var secret = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("clientSecret").GetString()!;
        (await AdminPostAsync(admin, "/id/admin/users", new { username = "paula", email = "paula@example.test", password = "paula-password-1", roles = Array.Empty<string>() })).Dispose();

        // The authorization request sends the browser to the login page under the path, which knows the app.
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        await browser.GoAsync("/id" + OAuthFlows.AuthorizeUrl(client, pkce, "openid profile offline_access"));
        Assert.Equal("/id/account/login", browser.PageUri!.AbsolutePath);
        Assert.Contains("The path app", browser.Page!.GetElementById("client-context")!.TextContent, StringComparison.Ordinal);
        var callback = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "paula", ["password"] = "paula-password-1" });
        var code = await OAuthFlows.CodeFromAsync(callback, client);
        Assert.Equal(Issuer, BrowserSession.CallbackParameters(callback)["iss"]);

        var tokens = await TokenAsync(secret, new()
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = client.RedirectUri,
            ["code_verifier"] = pkce.Verifier,
        });
        var keys = new JsonWebKeySet((await GetJsonAsync("/id/.well-known/jwks")).GetRawText()).GetSigningKeys();
        foreach (var (name, type) in new[] { ("access_token", "at+jwt"), ("id_token", "JWT") })
        {
            await AssertIssuedUnderThePathAsync(tokens.GetProperty(name).GetString()!, type, keys);
        }

        using (var userinfo = new HttpRequestMessage(HttpMethod.Get, "/id/connect/userinfo"))
        {
            userinfo.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens.GetProperty("access_token").GetString());
            using var answer = await http.SendAsync(userinfo);
            Assert.Equal("paula", (await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("preferred_username").GetString());
        }

        var refreshed = await TokenAsync(secret, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()! });
        Assert.True(refreshed.TryGetProperty("access_token", out _));

        // Signing out under the path returns to the app and ends the session: the next request asks for the password.
        var signedOut = await browser.GoAsync(QueryHelpers.AddQueryString("/id/connect/endsession", new Dictionary<string, string?>
        {
            ["post_logout_redirect_uri"] = client.PostLogoutRedirectUri,
            ["id_token_hint"] = tokens.GetProperty("id_token").GetString(),
        }));
        Assert.StartsWith(client.PostLogoutRedirectUri, signedOut.Headers.Location!.ToString(), StringComparison.Ordinal);
        // The app heard of it (back-channel logout) from the issuer with its path, as its ID tokens name it.
        await AssertIssuedUnderThePathAsync(
            Assert.Single(factory.Apps.ReceivedAt("http://127.0.0.1:7000/path-app/backchannel-logout")), "logout+jwt", keys);
        await browser.GoAsync("/id" + OAuthFlows.AuthorizeUrl(client, Pkce.Create()));
        Assert.Equal("/id/account/login", browser.PageUri!.AbsolutePath);
    }

    [Theory]
    [InlineData("/id/account/login")]
    [InlineData("/id/account/register")]
    [InlineData("/id/")]
    public async Task The_pages_links_and_cookies_stay_under_the_issuer_path(string page)
    {
        using var response = await http.GetAsync(page);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cookies = response.Headers.TryGetValues("Set-Cookie", out var values) ? values.ToList() : [];
        Assert.All(cookies, cookie => Assert.Contains("path=/id", cookie, StringComparison.OrdinalIgnoreCase));
        var document = await BrowsingContext.New(Configuration.Default).OpenAsync(request => request.Content(response.Content.ReadAsStream()));
        var addresses = document.QuerySelectorAll("a[href], link[href], script[src], form[action]")
            .Select(element => element.GetAttribute("href") ?? element.GetAttribute("src") ?? element.GetAttribute("action")!)
            .ToList();
        Assert.NotEmpty(addresses);
        Assert.All(addresses, address => Assert.True(address.StartsWith("/id/", StringComparison.Ordinal) || address.StartsWith('#') || address.StartsWith("data:", StringComparison.Ordinal), $"{page} links to {address}"));
    }

    private async Task AssertIssuedUnderThePathAsync(string token, string type, IEnumerable<SecurityKey> keys)
    {
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            IssuerSigningKeys = keys,
            ValidateAudience = false,
            ValidTypes = [type],
            LifetimeValidator = (_, expires, _, _) => expires > factory.Time.GetUtcNow().UtcDateTime,
        });
        Assert.True(validation.IsValid, $"{type}: {validation.Exception}");
    }

    private async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await http.GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<string> ClientCredentialsAsync(string clientId, string secret, string scope) =>
        (await TokenAsync(secret, new() { ["grant_type"] = "client_credentials", ["scope"] = scope }, clientId)).GetProperty("access_token").GetString()!;

    private async Task<JsonElement> TokenAsync(string secret, Dictionary<string, string> form, string clientId = "path-app")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/id/connect/token") { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = TokenClient.Basic(clientId, secret);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{form["grant_type"]}: {(int)response.StatusCode} {body}");
        return body;
    }

    private async Task<HttpResponseMessage> AdminPostAsync(string token, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await http.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return response;
    }
}
