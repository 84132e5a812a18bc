using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class CorsTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private async Task RegisterSpaAsync(string clientId, string origin) =>
        await tokens.RegisterClientAsync(new
        {
            clientId,
            clientType = "public",
            redirectUris = new[] { origin + "/callback" },
            grantTypes = new[] { "authorization_code" },
            scopes = new[] { "openid", "offline_access" },
            allowedCorsOrigins = new[] { origin },
        });

    private async Task<HttpResponseMessage> PreflightAsync(string path, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "content-type");
        return await tokens.Http.SendAsync(request);
    }

    [Theory]
    [InlineData("/connect/token")]
    [InlineData("/connect/userinfo")]
    [InlineData("/connect/revoke")]
    [InlineData("/connect/introspect")]
    [InlineData("/.well-known/openid-configuration")]
    [InlineData("/.well-known/oauth-authorization-server")]
    [InlineData("/.well-known/jwks")]
    public async Task A_browser_app_from_a_registered_origin_passes_the_preflight(string path)
    {
        var origin = "http://127.0.0.1:5173";
        await RegisterSpaAsync("spa-" + Math.Abs(path.GetHashCode(StringComparison.Ordinal)), origin);

        using var response = await PreflightAsync(path, origin);

        Assert.Equal(origin, response.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task A_browser_app_that_sends_credentials_as_keycloak_js_does_can_read_the_token_answer()
    {
        const string origin = "http://127.0.0.1:5175";
        await RegisterSpaAsync("spa-with-credentials", origin);

        using var preflight = await PreflightAsync("/connect/token", origin);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token",
                ["refresh_token"] = "unknown",
                ["client_id"] = "spa-with-credentials",
            }),
        };
        request.Headers.Add("Origin", origin);
        using var answer = await tokens.Http.SendAsync(request);

        Assert.Equal("true", preflight.Headers.GetValues("Access-Control-Allow-Credentials").Single());
        Assert.Equal(origin, answer.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", answer.Headers.GetValues("Access-Control-Allow-Credentials").Single());
    }

    [Fact]
    public async Task An_origin_registered_with_capitals_a_default_port_or_a_trailing_slash_matches_what_the_browser_sends()
    {
        await RegisterSpaAsync("spa-written-loosely", "https://SPA.Loose.example.test:443/");

        using var response = await PreflightAsync("/connect/token", "https://spa.loose.example.test");

        Assert.Equal("https://spa.loose.example.test", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task A_browser_app_can_read_why_userinfo_refused_its_token()
    {
        var origin = "http://127.0.0.1:5174";
        await RegisterSpaAsync("spa-reads-challenge", origin);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/connect/userinfo");
        request.Headers.Add("Origin", origin);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-a-token");

        using var response = await tokens.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(origin, response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("WWW-Authenticate", response.Headers.GetValues("Access-Control-Expose-Headers").Single(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_token_answer_is_readable_only_from_the_origins_of_the_client_it_names()
    {
        const string origin = "https://own-origin.example.test";
        await RegisterSpaAsync("spa-own-origin", origin);
        var other = await tokens.RegisterCodeClientAsync("web-without-origins");

        async Task<HttpResponseMessage> TokenRequestAsync(Dictionary<string, string> form, string? basicClient = null, string? secret = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token") { Content = new FormUrlEncodedContent(form) };
            request.Headers.Add("Origin", origin);
            if (basicClient is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
                    "Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(basicClient)}:{Uri.EscapeDataString(secret!)}")));
            }

            return await tokens.Http.SendAsync(request);
        }

        using var own = await TokenRequestAsync(new() { ["grant_type"] = "refresh_token", ["refresh_token"] = "unknown", ["client_id"] = "spa-own-origin" });
        using var otherInBody = await TokenRequestAsync(new() { ["grant_type"] = "refresh_token", ["refresh_token"] = "unknown", ["client_id"] = other.ClientId });
        using var otherByBasic = await TokenRequestAsync(new() { ["grant_type"] = "refresh_token", ["refresh_token"] = "unknown" }, other.ClientId, other.Secret);

        // Each is refused (no such token, or no secret); only the listed client's refusal is readable from its origin.
        Assert.All([own, otherInBody, otherByBasic], response => Assert.False(response.IsSuccessStatusCode));
        Assert.Equal(origin, own.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.False(otherInBody.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(otherByBasic.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task An_origin_no_client_lists_gets_no_cors_headers()
    {
        await RegisterSpaAsync("spa-listed", "https://app.example.test");

        using var response = await PreflightAsync("/connect/token", "https://evil.example.test");

        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Answers_that_depend_on_the_origin_say_so_to_caches()
    {
        await RegisterSpaAsync("spa-cached", "https://cached.example.test");

        foreach (var origin in new[] { "https://cached.example.test", "https://other.example.test" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration");
            request.Headers.Add("Origin", origin);
            using var response = await tokens.Http.SendAsync(request);

            // Allowed for one origin, not for another: a shared cache must not hand one's answer to the other.
            Assert.Contains("Origin", response.Headers.Vary);
        }
    }

    [Fact]
    public async Task The_authorization_endpoint_never_answers_cross_origin()
    {
        await RegisterSpaAsync("spa-authorize", "https://spa.example.test");

        using var response = await PreflightAsync("/connect/authorize", "https://spa.example.test");

        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.NotEqual(HttpStatusCode.InternalServerError, response.StatusCode);
    }
}
