using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class DiscoveryAndAccessTokenTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Discovery_advertises_every_endpoint_grant_response_type_scope_and_pkce_method()
    {
        using var response = await tokens.Http.GetAsync("/.well-known/openid-configuration");
        var discovery = await TokenClient.ReadJsonAsync(response);
        List<string?> List(string name) => [.. discovery.GetProperty(name).EnumerateArray().Select(v => v.GetString())];

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("http://localhost", discovery.GetProperty("issuer").GetString());
        foreach (var (name, path) in new[]
        {
            ("authorization_endpoint", "/connect/authorize"), ("token_endpoint", "/connect/token"),
            ("userinfo_endpoint", "/connect/userinfo"), ("introspection_endpoint", "/connect/introspect"),
            ("revocation_endpoint", "/connect/revoke"), ("end_session_endpoint", "/connect/endsession"),
        })
        {
            Assert.Equal("http://localhost" + path, discovery.GetProperty(name).GetString());
        }

        Assert.False(string.IsNullOrEmpty(discovery.GetProperty("jwks_uri").GetString()));
        Assert.Superset(new HashSet<string?> { "authorization_code", "refresh_token", "client_credentials", "password" }, List("grant_types_supported").ToHashSet());
        Assert.Contains("code", List("response_types_supported"));
        Assert.Superset(new HashSet<string?> { "openid", "profile", "email", "offline_access" }, List("scopes_supported").ToHashSet());
        Assert.Equal(["S256"], List("code_challenge_methods_supported"));
    }

    [Fact]
    public async Task OAuth_clients_find_the_same_metadata_at_the_rfc_8414_address()
    {
        var openId = await TokenClient.ReadJsonAsync(await tokens.Http.GetAsync("/.well-known/openid-configuration"));
        using var response = await tokens.Http.GetAsync("/.well-known/oauth-authorization-server");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var metadata = await TokenClient.ReadJsonAsync(response);
        Assert.Equal(openId.GetRawText(), metadata.GetRawText());
    }

    [Theory]
    [InlineData("/.well-known/openid-configuration")]
    [InlineData("/.well-known/oauth-authorization-server")]
    [InlineData("/.well-known/jwks")]
    public async Task Discovery_and_the_jwks_answer_head_like_get_and_other_methods_with_405(string path)
    {
        using var head = await tokens.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
        using var post = await tokens.Http.PostAsync(path, new FormUrlEncodedContent([]));

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("application/json", head.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal(["GET", "HEAD"], post.Content.Headers.Allow.Select(method => method.Trim()));
        Assert.Equal("application/problem+json", post.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Discovery_offers_only_the_client_authentication_methods_a_registered_client_can_use()
    {
        using var response = await tokens.Http.GetAsync("/.well-known/openid-configuration");
        var discovery = await TokenClient.ReadJsonAsync(response);

        // Clients are registered with secrets; none can register a key set, so private_key_jwt is not offered.
        foreach (var endpoint in new[] { "token", "introspection", "revocation" })
        {
            var methods = discovery.GetProperty($"{endpoint}_endpoint_auth_methods_supported").EnumerateArray()
                .Select(v => v.GetString()).Order().ToList();
            Assert.Equal(["client_secret_basic", "client_secret_post"], methods);
        }
    }

    [Fact]
    public async Task Discovery_lists_a_scope_an_admin_creates_at_once_and_drops_it_once_deleted()
    {
        async Task<List<string?>> ScopesSupportedAsync()
        {
            using var response = await tokens.Http.GetAsync("/.well-known/openid-configuration");
            return [.. (await TokenClient.ReadJsonAsync(response)).GetProperty("scopes_supported").EnumerateArray().Select(v => v.GetString())];
        }

        Assert.DoesNotContain("ledger", await ScopesSupportedAsync());

        await tokens.RegisterScopeAsync("ledger", "ledger-api");
        Assert.Contains("ledger", await ScopesSupportedAsync());
        Assert.Contains("ledger", await ScopesSupportedAsync());

        Assert.Equal(HttpStatusCode.NoContent, (await tokens.AdminAsync(HttpMethod.Delete, "/admin/scopes/ledger")).Status);
        Assert.DoesNotContain("ledger", await ScopesSupportedAsync());
    }

    [Fact]
    public async Task A_users_access_token_is_an_RFC_9068_jwt_with_every_contract_claim()
    {
        await tokens.RegisterScopeAsync("invoices", "invoices-api");
        var client = await tokens.RegisterCodeClientAsync("jwt-claims", scopes: "openid profile offline_access invoices");
        var userId = await tokens.RegisterUserAsync("jules", "jules-password-1");

        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "jules", "jules-password-1", "openid invoices");
        var jwt = await tokens.ValidateAccessTokenAsync(body.Token("access_token"), audience: "invoices-api");

        Assert.Equal("at+jwt", jwt.Typ);
        Assert.Equal("RS256", jwt.Alg);
        Assert.False(string.IsNullOrEmpty(jwt.Kid));
        Assert.Equal("http://localhost", jwt.Issuer);
        Assert.Equal(userId, jwt.Subject);
        Assert.Equal(["invoices-api"], jwt.Audiences);
        Assert.Equal("jwt-claims", jwt.GetClaim("client_id").Value);
        Assert.Equal(["invoices", "openid"], jwt.GetClaim("scope").Value.Split(' ').Order());
        Assert.False(string.IsNullOrEmpty(jwt.Id));
        Assert.True(jwt.TryGetClaim("iat", out _));
        Assert.Equal(factory.Time.GetUtcNow().AddMinutes(5).ToUnixTimeSeconds(), new DateTimeOffset(jwt.ValidTo).ToUnixTimeSeconds(), tolerance: 2);
        Assert.Equal("Bearer", body.Token("token_type"), ignoreCase: true);
    }

    [Fact]
    public async Task An_id_token_is_not_accepted_as_an_access_token()
    {
        var client = await tokens.RegisterCodeClientAsync("jwt-id-token");
        await tokens.RegisterUserAsync("juno", "juno-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "juno", "juno-password-1");

        var asAccessToken = await tokens.ValidateAsync(body.Token("id_token"), audience: null, tokenType: "at+jwt");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/connect/userinfo");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", body.Token("id_token"));
        using var userinfo = await tokens.Http.SendAsync(request);

        Assert.False(asAccessToken.IsValid);
        Assert.Equal(HttpStatusCode.Unauthorized, userinfo.StatusCode);
    }

    [Theory]
    [InlineData("https://id.example.com", "https://id.example.com")]
    [InlineData("https://id.example.com/", "https://id.example.com/")]
    public async Task A_configured_issuer_is_published_exactly_as_written(string configured, string published)
    {
        await using var server = new IdentityServerFactory().With("IdentityServer:Issuer", configured);
        var client = server.CreateClient(new() { BaseAddress = new Uri("https://localhost/") });

        var discovery = await TokenClient.ReadJsonAsync(await client.GetAsync("/.well-known/openid-configuration"));
        using var tokenRequest = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin" }),
        };
        tokenRequest.Headers.Authorization = TokenClient.Basic(IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret);
        var body = await TokenClient.ReadJsonAsync(await client.SendAsync(tokenRequest));

        Assert.Equal(published, discovery.GetProperty("issuer").GetString());
        Assert.Equal(published, ProtocolHelpers.Read(body.Token("access_token")).Issuer);
    }
}
