using System.Net;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

/// <summary>Whatever a client sends, the answer is an OAuth error, never a server error.</summary>
public sealed class MalformedRequestTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private static void AssertOAuthErrorBody(HttpStatusCode status, JsonElement body)
    {
        Assert.True((int)status is >= 400 and < 500, $"expected a 4xx, got {(int)status} {body}");
        Assert.False(string.IsNullOrEmpty(body.Error()), $"expected an OAuth error body, got {body}");
    }

    [Fact]
    public async Task A_token_request_without_grant_type_gets_invalid_request()
    {
        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string> { ["code"] = "abc" },
            IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret);

        AssertOAuthErrorBody(status, body);
        Assert.Equal("invalid_request", body.Error());
    }

    [Fact]
    public async Task An_unknown_grant_type_gets_unsupported_grant_type()
    {
        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "urn:example:magic" },
            IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("unsupported_grant_type", body.Error());
    }

    [Fact]
    public async Task A_token_request_without_any_client_is_refused()
    {
        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" });

        AssertOAuthErrorBody(status, body);
        Assert.Contains(body.Error(), new[] { "invalid_client", "invalid_request" });
    }

    [Fact]
    public async Task An_unknown_client_gets_invalid_client_with_401()
    {
        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, "no-such-client", "no-such-secret-123");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_client", body.Error());
    }

    [Fact]
    public async Task A_get_on_the_token_endpoint_gets_an_oauth_error()
    {
        using var response = await tokens.Http.GetAsync("/connect/token?grant_type=client_credentials&client_id=admin-cli");

        AssertOAuthErrorBody(response.StatusCode, await TokenClient.ReadJsonAsync(response));
    }

    [Fact]
    public async Task A_token_request_that_is_not_a_form_gets_an_oauth_error()
    {
        using var content = new StringContent("{\"grant_type\":\"client_credentials\"}", System.Text.Encoding.UTF8, "application/json");
        using var response = await tokens.Http.PostAsync("/connect/token", content);

        AssertOAuthErrorBody(response.StatusCode, await TokenClient.ReadJsonAsync(response));
    }

    [Fact]
    public async Task A_code_grant_with_a_garbage_code_gets_invalid_grant()
    {
        var client = await tokens.RegisterCodeClientAsync("garbage-code");

        var response = await tokens.RedeemCodeAsync(client, "this-is-not-a-code", Pkce.Create());

        ProtocolHelpers.AssertOAuthError(response, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task A_refresh_grant_with_a_garbage_token_gets_invalid_grant()
    {
        var client = await tokens.RegisterCodeClientAsync("garbage-refresh");

        var response = await tokens.RefreshAsync(client, "eyJhbGciOiJub25lIn0.e30.");

        ProtocolHelpers.AssertOAuthError(response, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task A_code_grant_without_a_code_gets_invalid_request()
    {
        var client = await tokens.RegisterCodeClientAsync("missing-code");

        var response = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["redirect_uri"] = client.RedirectUri },
            client.ClientId, client.Secret);

        ProtocolHelpers.AssertOAuthError(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task A_client_credentials_request_for_a_scope_the_client_lacks_gets_no_token()
    {
        var secret = await tokens.RegisterClientAsync(new { clientId = "scope-greedy", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });

        var notAllowed = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin" }, "scope-greedy", secret);
        var unknown = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "no-such-scope" }, "scope-greedy", secret);

        // RFC 6749 5.2: a scope the client may not use and a scope that does not exist are both invalid_scope.
        ProtocolHelpers.AssertOAuthError(notAllowed, HttpStatusCode.BadRequest, "invalid_scope");
        ProtocolHelpers.AssertOAuthError(unknown, HttpStatusCode.BadRequest, "invalid_scope");
        Assert.Null(notAllowed.Body.OptionalToken("access_token"));
    }

    [Fact]
    public async Task An_authorization_request_without_a_scope_is_sent_back_to_the_client_as_invalid_scope()
    {
        var client = await tokens.RegisterCodeClientAsync("no-scope-asked");

        var authorize = await new BrowserSession(factory).GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), scope: null));

        // RFC 6749 3.3: with no scope asked for, the token would have none; Duende refuses it likewise.
        await ProtocolHelpers.AssertSentBackToTheClientAsync(authorize, client, "invalid_scope");
    }

    [Fact]
    public async Task A_scope_parameter_over_2000_characters_is_refused_before_the_client_is_even_looked_up()
    {
        // Thousands of scope names were each looked up and compared with the others: seconds of CPU for anyone.
        var scope = string.Join(' ', Enumerable.Range(0, 500).Select(i => $"s{i}"));

        var response = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = scope }, "no-such-client", "x");

        ProtocolHelpers.AssertOAuthError(response, HttpStatusCode.BadRequest, "invalid_scope");
        Assert.Contains("longer than 2000 characters", response.Body.GetProperty("error_description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_over_long_nonce_is_sent_back_as_invalid_request_and_an_over_long_state_is_not_sent_back_at_all()
    {
        var client = await tokens.RegisterCodeClientAsync("bounded-lengths");
        var browser = new BrowserSession(factory);

        var longNonce = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), nonce: new string('n', 1001)));
        var longState = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), state: new string('s', 4001)));

        await ProtocolHelpers.AssertSentBackToTheClientAsync(longNonce, client, "invalid_request");
        var location = longState.Headers.Location!;
        Assert.Equal(client.RedirectUri, location.GetLeftPart(UriPartial.Path));
        var parameters = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(location.Query);
        Assert.Equal("invalid_request", parameters["error"].ToString());
        Assert.False(parameters.ContainsKey("state"));
    }

    [Theory]
    [InlineData("application/x-www-form-urlencoded;;")]
    [InlineData("application/x-www-form-urlencoded; charset=\"")]
    [InlineData("application/x-www-form-urlencoded, application/json")]
    [InlineData("application/x-www-form-urlencoded; charset=utf-7")]
    public async Task A_malformed_form_content_type_gets_invalid_request_on_every_protocol_endpoint(string contentType)
    {
        foreach (var path in new[] { "/connect/token", "/connect/introspect", "/connect/revoke", "/connect/authorize", "/connect/endsession" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent("grant_type=client_credentials&token=x"u8.ToArray()) };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            using var response = await tokens.Http.SendAsync(request);

            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path}: {(int)response.StatusCode}");
            Assert.Equal("invalid_request", (await TokenClient.ReadJsonAsync(response)).GetProperty("error").GetString());
        }
    }

    [Theory]
    [InlineData("application/x-www-form-urlencoded; charset=UTF-8")]
    [InlineData("application/x-www-form-urlencoded; charset=\"utf-8\"")]
    [InlineData("application/x-www-form-urlencoded; charset=ISO-8859-1")]
    [InlineData("application/x-www-form-urlencoded; charset=windows-1252")]
    [InlineData("application/x-www-form-urlencoded; charset=utf8")]
    public async Task A_form_in_any_charset_the_form_reader_takes_gets_its_token(string contentType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token") { Content = new ByteArrayContent("grant_type=client_credentials&scope=admin"u8.ToArray()) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        request.Headers.Authorization = TokenClient.Basic(IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret);
        using var response = await tokens.Http.SendAsync(request);
        using var discovery = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration") { Content = new ByteArrayContent([]) };
        discovery.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=\"no-such\"");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await tokens.Http.SendAsync(discovery)).StatusCode);
    }

    [Fact]
    public async Task Offline_access_for_a_client_without_the_refresh_token_grant_is_invalid_scope()
    {
        var client = await tokens.RegisterCodeClientAsync("no-refresh-grant", scopes: "openid profile", extraGrantTypes: ["password"]);
        await tokens.AdminAsync(HttpMethod.Put, "/admin/clients/no-refresh-grant", new
        {
            clientType = "confidential", redirectUris = new[] { client.RedirectUri }, postLogoutRedirectUris = new[] { client.PostLogoutRedirectUri },
            grantTypes = new[] { "authorization_code", "password" }, scopes = new[] { "openid", "profile" },
        });
        await tokens.RegisterUserAsync("nora", "nora-password-1");

        var authorize = await new BrowserSession(factory).GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), scope: "openid offline_access"));
        var password = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "nora", ["password"] = "nora-password-1", ["scope"] = "openid offline_access",
        }, client.ClientId, client.Secret);

        // RFC 6749 4.1.2.1 and 5.2: a scope the client may not use; OpenIddict said invalid_request.
        await ProtocolHelpers.AssertSentBackToTheClientAsync(authorize, client, "invalid_scope");
        ProtocolHelpers.AssertOAuthError(password, HttpStatusCode.BadRequest, "invalid_scope");
    }

    [Fact]
    public async Task A_confidential_client_that_sends_no_secret_gets_invalid_client_with_401()
    {
        await tokens.RegisterClientAsync(new { clientId = "secretless-call", clientType = "confidential", grantTypes = new[] { "client_credentials" } });

        var response = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = "secretless-call" }, clientId: null, clientSecret: null);

        // RFC 6749 5.2: no client authentication included is invalid_client, and 401.
        ProtocolHelpers.AssertOAuthError(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task A_public_client_asking_for_client_credentials_hears_it_may_not_use_the_grant()
    {
        var client = await tokens.RegisterCodeClientAsync("public-no-cc", isPublic: true);

        var response = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = client.ClientId }, clientId: null, clientSecret: null);

        // RFC 6749 5.2: the client may not use this grant type (as Keycloak answers).
        ProtocolHelpers.AssertOAuthError(response, HttpStatusCode.BadRequest, "unauthorized_client");
    }

    public static TheoryData<string> GarbageAuthorizeRequests() =>
    [
        "/connect/authorize",
        "/connect/authorize?client_id=",
        "/connect/authorize?client_id=%00%01&response_type=%FF&redirect_uri=::::",
        "/connect/authorize?client_id=web&response_type=token%20id_token&redirect_uri=javascript:alert(1)",
        "/connect/authorize?client_id=a&client_id=b&response_type=code",
        "/connect/authorize?response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A7000%2Fx",
        "/connect/authorize?request=eyJhbGciOiJub25lIn0.e30.&client_id=x",
        "/connect/authorize?client_id=" + "x" + "&prompt=none%20login&max_age=abc&nonce=" + "%E2%82%AC",
    ];

    [Theory]
    [MemberData(nameof(GarbageAuthorizeRequests))]
    public async Task Garbage_on_the_authorization_endpoint_never_gives_a_server_error(string url)
    {
        var browser = new BrowserSession(factory);

        var response = await browser.GoAsync(url);

        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{url} gave {(int)response.StatusCode}");
        Assert.Null(response.Headers.Location);
        Assert.Contains("error", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Garbage_parameters_for_a_known_client_are_refused_on_an_error_page_without_a_code()
    {
        var client = await tokens.RegisterCodeClientAsync("garbage-known");
        var browser = new BrowserSession(factory);

        var unsupported = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["response_type"] = "token" }));
        var badScope = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), scope: "openid not-a-scope"));
        var notAllowedScope = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), scope: "openid admin"));
        var badPrompt = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "none login" }));
        var badResponseMode = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["response_mode"] = "web_message" }));

        // The client and its redirect_uri are good, so the client hears of it (RFC 6749 4.1.2.1), as with Keycloak.
        var expected = new[]
        {
            (unsupported, "unsupported_response_type"), (badScope, "invalid_scope"), (notAllowedScope, "invalid_scope"),
            (badPrompt, "invalid_request"), (badResponseMode, "invalid_request"),
        };
        foreach (var (response, error) in expected)
        {
            await ProtocolHelpers.AssertSentBackToTheClientAsync(response, client, error);
        }
    }

    [Fact]
    public async Task Errors_for_an_unregistered_redirect_uri_or_an_unknown_client_stay_on_the_server()
    {
        var client = await tokens.RegisterCodeClientAsync("garbage-redirect");
        var other = await tokens.RegisterCodeClientAsync("garbage-redirect-other");
        var browser = new BrowserSession(factory);
        var elsewhere = client with { RedirectUri = "https://attacker.example/callback" };
        var anotherClientsUri = client with { RedirectUri = other.RedirectUri };
        var unknown = client with { ClientId = "no-such-client" };

        foreach (var url in new[]
        {
            OAuthFlows.AuthorizeUrl(elsewhere, Pkce.Create(), scope: "openid not-a-scope"),
            OAuthFlows.AuthorizeUrl(anotherClientsUri, Pkce.Create(), scope: "openid not-a-scope"),
            OAuthFlows.AuthorizeUrl(unknown, Pkce.Create(), scope: "openid not-a-scope"),
            OAuthFlows.AuthorizeUrl(client with { RedirectUri = null! }, Pkce.Create(), scope: "openid not-a-scope"),
        })
        {
            var response = await browser.GoAsync(url);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url}: {(int)response.StatusCode} {response.Headers.Location}");
            Assert.Null(response.Headers.Location);
        }
    }

    [Fact]
    public async Task Garbage_on_the_introspection_and_revocation_endpoints_never_gives_a_server_error()
    {
        foreach (var path in new[] { "/connect/introspect", "/connect/revoke", "/connect/userinfo" })
        {
            using var get = await tokens.Http.GetAsync(path);
            using var post = await tokens.Http.PostAsync(path, new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = "garbage" }));

            Assert.True((int)get.StatusCode is >= 400 and < 500, $"GET {path} gave {(int)get.StatusCode}");
            Assert.True((int)post.StatusCode is >= 400 and < 500, $"POST {path} gave {(int)post.StatusCode}");
        }
    }

    [Fact]
    public async Task Garbage_on_the_end_session_endpoint_never_gives_a_server_error_nor_a_redirect_off_the_server()
    {
        foreach (var query in new[] { "?id_token_hint=garbage", "?post_logout_redirect_uri=%00", "?post_logout_redirect_uri=javascript:alert(1)&state=x", "?id_token_hint=eyJhbGciOiJub25lIn0.e30.&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F" })
        {
            using var response = await tokens.Http.GetAsync("/connect/endsession" + query);

            Assert.True((int)response.StatusCode < 500, $"{query} gave {(int)response.StatusCode}");
            Assert.True(response.Headers.Location is null || !response.Headers.Location.IsAbsoluteUri || response.Headers.Location.Host == "localhost",
                $"{query} redirected to {response.Headers.Location}");
        }
    }

    [Fact]
    public async Task A_get_of_the_authorization_endpoint_that_says_it_carries_a_form_is_read_from_its_query()
    {
        var client = await tokens.RegisterCodeClientAsync("form-typed-get-app");
        var http = factory.CreateClient(new() { AllowAutoRedirect = false });

        using var response = await http.SendAsync(ProtocolHelpers.FormTypedGet(OAuthFlows.AuthorizeUrl(client, Pkce.Create())));

        // On to the login page with the whole request to come back to, not an empty one.
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var returnUrl = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri(factory.Server.BaseAddress, response.Headers.Location!).Query)["ReturnUrl"].ToString();
        Assert.Contains("client_id=form-typed-get-app", returnUrl, StringComparison.Ordinal);
        Assert.Contains("code_challenge=", returnUrl, StringComparison.Ordinal);
    }
}
