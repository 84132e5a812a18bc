using System.Net;
using System.Net.Http.Headers;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class IntrospectionAndRevocationTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private async Task<HttpResponseMessage> RevokeAsync(TestClient client, string token, string? hint = null)
    {
        var form = new Dictionary<string, string> { ["token"] = token };
        if (hint is not null)
        {
            form["token_type_hint"] = hint;
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/revoke") { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = TokenClient.Basic(client.ClientId, client.Secret!);
        return await tokens.Http.SendAsync(request);
    }

    [Fact]
    public async Task The_client_a_token_was_issued_to_sees_it_active_with_sub_client_id_scope_and_username()
    {
        var client = await tokens.RegisterCodeClientAsync("introspect-active");
        var userId = await tokens.RegisterUserAsync("ivan", "ivan-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "ivan", "ivan-password-1", "openid profile offline_access");

        var introspection = await tokens.IntrospectAsync(body.Token("access_token"), client.ClientId, client.Secret!);

        Assert.True(introspection.GetProperty("active").GetBoolean(), introspection.ToString());
        Assert.Equal(userId, introspection.GetProperty("sub").GetString());
        Assert.Equal(client.ClientId, introspection.GetProperty("client_id").GetString());
        // What the client asked for and got, as Keycloak tells it (the JWT says the same to whoever holds it).
        Assert.Equal(["offline_access", "openid", "profile"], introspection.GetProperty("scope").GetString()!.Split(' ').Order());
        Assert.Equal("ivan", introspection.GetProperty("username").GetString());
        // Its refresh token likewise.
        var refresh = await tokens.IntrospectAsync(body.Token("refresh_token"), client.ClientId, client.Secret!);
        Assert.True(refresh.GetProperty("active").GetBoolean(), refresh.ToString());
        Assert.Equal("refresh_token", refresh.GetProperty("token_usage").GetString());
        Assert.Equal(["offline_access", "openid", "profile"], refresh.GetProperty("scope").GetString()!.Split(' ').Order());
        Assert.Equal("ivan", refresh.GetProperty("username").GetString());
        Assert.Equal("http://localhost", introspection.GetProperty("iss").GetString());
        Assert.True(introspection.GetProperty("exp").GetInt64() > factory.Time.GetUtcNow().ToUnixTimeSeconds());
    }

    [Fact]
    public async Task A_client_introspecting_its_own_client_credentials_token_sees_its_scope_and_no_username()
    {
        await tokens.RegisterScopeAsync("ledger-sync", "ledger-api");
        var secret = await tokens.RegisterClientAsync(new { clientId = "introspect-self", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = new[] { "ledger-sync" } });
        var token = await tokens.ClientCredentialsTokenAsync("introspect-self", secret!, "ledger-sync");

        var introspection = await tokens.IntrospectAsync(token, "introspect-self", secret!);

        Assert.True(introspection.GetProperty("active").GetBoolean(), introspection.ToString());
        Assert.Equal("ledger-sync", introspection.GetProperty("scope").GetString());
        Assert.False(introspection.TryGetProperty("username", out _), introspection.ToString());   // no user behind it
    }

    [Fact]
    public async Task A_resource_api_in_the_tokens_audience_sees_it_active_with_sub_client_id_and_scope()
    {
        // OpenIddict shows a token's scopes and other claims only to a caller in its audience: the resource API.
        await tokens.RegisterScopeAsync("orders", "orders-api");
        var apiSecret = await tokens.RegisterClientAsync(new { clientId = "orders-api", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });
        var client = await tokens.RegisterCodeClientAsync("introspect-orders", scopes: "openid profile offline_access orders");
        var userId = await tokens.RegisterUserAsync("ines", "ines-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "ines", "ines-password-1", "openid orders");

        var introspection = await tokens.IntrospectAsync(body.Token("access_token"), "orders-api", apiSecret!);

        Assert.True(introspection.GetProperty("active").GetBoolean(), introspection.ToString());
        Assert.Equal(userId, introspection.GetProperty("sub").GetString());
        Assert.Equal(client.ClientId, introspection.GetProperty("client_id").GetString());
        Assert.Equal(["openid", "orders"], introspection.GetProperty("scope").GetString()!.Split(' ').Order());
        Assert.Equal("orders-api", introspection.GetProperty("aud").ValueKind == System.Text.Json.JsonValueKind.Array
            ? introspection.GetProperty("aud")[0].GetString()
            : introspection.GetProperty("aud").GetString());
    }

    [Fact]
    public async Task A_resource_api_introspecting_a_clients_own_token_gets_no_username_though_the_client_has_a_display_name()
    {
        await tokens.RegisterScopeAsync("stock", "stock-api");
        var apiSecret = await tokens.RegisterClientAsync(new { clientId = "stock-api", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });
        var secret = await tokens.RegisterClientAsync(new { clientId = "stock-sync", displayName = "alice", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = new[] { "stock" } });
        var token = await tokens.ClientCredentialsTokenAsync("stock-sync", secret!, "stock");

        var introspection = await tokens.IntrospectAsync(token, "stock-api", apiSecret!);

        Assert.True(introspection.GetProperty("active").GetBoolean(), introspection.ToString());
        Assert.Equal("stock-sync", introspection.GetProperty("client_id").GetString());
        Assert.False(introspection.TryGetProperty("username", out _), introspection.ToString());   // RFC 7662: the resource owner's
    }

    [Fact]
    public async Task An_api_whose_resource_is_a_url_introspects_its_users_tokens_and_sees_what_an_audience_sees()
    {
        // No client id can be a URL: the API's client is named otherwise, and sees what a client named by the audience sees.
        await tokens.RegisterScopeAsync("ledger", "ledger-api", "https://ledger.example/api");
        var audienceSecret = await tokens.RegisterClientAsync(new { clientId = "ledger-api", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });
        var apiSecret = await tokens.RegisterClientAsync(new { clientId = "ledger-service", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });
        var client = await tokens.RegisterCodeClientAsync("introspect-ledger", scopes: "openid profile email offline_access ledger");
        var userId = await tokens.RegisterUserAsync("leda", "leda-password-1", "leda@example.com");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "leda", "leda-password-1", "openid email ledger");

        var byApi = await tokens.IntrospectAsync(body.Token("access_token"), "ledger-service", apiSecret!);
        var byAudience = await tokens.IntrospectAsync(body.Token("access_token"), "ledger-api", audienceSecret!);

        Assert.True(byApi.GetProperty("active").GetBoolean(), byApi.ToString());
        Assert.Equal(userId, byApi.GetProperty("sub").GetString());
        Assert.Equal(client.ClientId, byApi.GetProperty("client_id").GetString());
        Assert.Equal(["email", "ledger", "openid"], byApi.GetProperty("scope").GetString()!.Split(' ').Order());
        Assert.Equal("leda", byApi.GetProperty("username").GetString());
        Assert.Equal("leda@example.com", byApi.GetProperty("email").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.False, byApi.GetProperty("email_verified").ValueKind);
        Assert.Equal(Sorted(byAudience), Sorted(byApi));

        static List<string> Sorted(System.Text.Json.JsonElement answer) =>
            [.. answer.EnumerateObject().Select(field => field.Name + "=" + (field.Value.ValueKind == System.Text.Json.JsonValueKind.Array
                ? string.Join(",", field.Value.EnumerateArray().Select(item => item.ToString()).Order())
                : field.Value.ToString())).Order()];
    }

    [Fact]
    public async Task An_api_registered_without_grants_introspects_its_users_tokens_and_gets_no_token_of_its_own()
    {
        await tokens.RegisterScopeAsync("parcels", "parcels-api");
        var apiSecret = await tokens.RegisterClientAsync(new { clientId = "parcels-api", clientType = "confidential", grantTypes = Array.Empty<string>() });
        var client = await tokens.RegisterCodeClientAsync("introspect-parcels", scopes: "openid offline_access parcels");
        var userId = await tokens.RegisterUserAsync("pia", "pia-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "pia", "pia-password-1", "openid parcels");

        var introspection = await tokens.IntrospectAsync(body.Token("access_token"), "parcels-api", apiSecret!);
        var (status, refused) = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, "parcels-api", apiSecret);

        Assert.True(introspection.GetProperty("active").GetBoolean(), introspection.ToString());
        Assert.Equal(userId, introspection.GetProperty("sub").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("unauthorized_client", refused.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Introspecting_an_id_token_says_inactive_rather_than_failing()
    {
        var client = await tokens.RegisterCodeClientAsync("introspect-id-token");
        await tokens.RegisterUserAsync("ida", "ida-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "ida", "ida-password-1");

        var introspection = await tokens.IntrospectAsync(body.Token("id_token"), client.ClientId, client.Secret!);

        Assert.False(introspection.GetProperty("active").GetBoolean(), introspection.ToString());
        Assert.Single(introspection.EnumerateObject());
    }

    [Fact]
    public async Task A_revoked_access_token_introspects_as_inactive()
    {
        var client = await tokens.RegisterCodeClientAsync("introspect-revoked-access");
        await tokens.RegisterUserAsync("jane", "jane-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "jane", "jane-password-1");

        using var revoked = await RevokeAsync(client, body.Token("access_token"));

        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        var introspection = await tokens.IntrospectAsync(body.Token("access_token"), client.ClientId, client.Secret!);
        Assert.False(introspection.GetProperty("active").GetBoolean());
        Assert.False(introspection.TryGetProperty("sub", out _));
    }

    [Fact]
    public async Task A_revoked_refresh_token_introspects_as_inactive_and_no_longer_refreshes()
    {
        var client = await tokens.RegisterCodeClientAsync("introspect-revoked-refresh");
        await tokens.RegisterUserAsync("jack", "jack-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "jack", "jack-password-1");
        Assert.True((await tokens.IntrospectAsync(body.Token("refresh_token"), client.ClientId, client.Secret!)).GetProperty("active").GetBoolean());

        using var revoked = await RevokeAsync(client, body.Token("refresh_token"), "refresh_token");

        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.False((await tokens.IntrospectAsync(body.Token("refresh_token"), client.ClientId, client.Secret!)).GetProperty("active").GetBoolean());
        ProtocolHelpers.AssertOAuthError(await tokens.RefreshAsync(client, body.Token("refresh_token")), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Revoking_a_refresh_token_also_ends_the_access_tokens_of_its_grant_but_not_another_logins()
    {
        // RFC 7009 2.1: revoking a refresh token should end the grant's access tokens too, as a "sign out of this app"
        // expects (Keycloak ends the session). Another login of the same user to the same client keeps working.
        var client = await tokens.RegisterCodeClientAsync("revoke-grant");
        await tokens.RegisterUserAsync("jill", "jill-password-1");
        var signedOut = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "jill", "jill-password-1");
        var (refreshed, afterRefresh) = await tokens.RefreshAsync(client, signedOut.Token("refresh_token"));
        Assert.True(refreshed == HttpStatusCode.OK, afterRefresh.ToString());
        var other = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "jill", "jill-password-1");

        using var revoked = await RevokeAsync(client, afterRefresh.Token("refresh_token"), "refresh_token");

        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        foreach (var accessToken in new[] { signedOut.Token("access_token"), afterRefresh.Token("access_token") })
        {
            Assert.False((await tokens.IntrospectAsync(accessToken, client.ClientId, client.Secret!)).GetProperty("active").GetBoolean());
        }

        Assert.True((await tokens.IntrospectAsync(other.Token("access_token"), client.ClientId, client.Secret!)).GetProperty("active").GetBoolean());
        var (stillWorks, body) = await tokens.RefreshAsync(client, other.Token("refresh_token"));
        Assert.True(stillWorks == HttpStatusCode.OK, body.ToString());
    }

    [Fact]
    public async Task Revoking_a_clients_own_access_token_is_refused_as_unsupported_and_it_expires_on_its_own()
    {
        // client_credentials tokens carry no database row (see TokenStoragePolicy); RFC 7009 lets a server
        // refuse to revoke a token type it cannot revoke, and say so.
        await tokens.RegisterScopeAsync("unrevocable-api", "unrevocable-resource");
        var secret = await tokens.RegisterClientAsync(new { clientId = "unrevocable-worker", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = new[] { "unrevocable-api" } });
        var accessToken = await tokens.ClientCredentialsTokenAsync("unrevocable-worker", secret!, "unrevocable-api");

        using var revoked = await RevokeAsync(new TestClient("unrevocable-worker", secret, "", ""), accessToken);

        Assert.Equal(HttpStatusCode.BadRequest, revoked.StatusCode);
        Assert.Equal("unsupported_token_type", (await TokenClient.ReadJsonAsync(revoked)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Revoking_an_unknown_token_still_answers_200()
    {
        var client = await tokens.RegisterCodeClientAsync("revoke-unknown");

        using var response = await RevokeAsync(client, "not-a-token-at-all");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Introspection_with_a_wrong_secret_gets_invalid_client()
    {
        var client = await tokens.RegisterCodeClientAsync("introspect-wrong-secret");
        await tokens.RegisterUserAsync("kate", "kate-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "kate", "kate-password-1");

        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/introspect")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = body.Token("access_token") }),
        };
        request.Headers.Authorization = TokenClient.Basic(client.ClientId, "wrong-secret-wrong-secret");
        using var response = await tokens.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid_client", (await TokenClient.ReadJsonAsync(response)).Error());
    }

    [Fact]
    public async Task A_public_client_is_refused_introspection_alike_for_a_live_token_and_for_garbage()
    {
        var client = await tokens.RegisterCodeClientAsync("introspect-public", isPublic: true);
        await tokens.RegisterUserAsync("lena", "lena-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "lena", "lena-password-1");

        // Anyone can claim a public client's id, so the answer must not depend on the token (RFC 7662 4: token scanning).
        foreach (var token in new[] { body.Token("access_token"), body.Token("refresh_token"), "not-a-token" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/introspect")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token, ["client_id"] = client.ClientId }),
            };
            using var response = await tokens.Http.SendAsync(request);
            var introspection = await TokenClient.ReadJsonAsync(response);

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("unauthorized_client", introspection.Error());
            Assert.False(introspection.TryGetProperty("active", out _));
        }
    }

    [Fact]
    public async Task A_client_cannot_introspect_a_refresh_token_issued_to_another_client()
    {
        var owner = await tokens.RegisterCodeClientAsync("introspect-owner");
        var snoop = await tokens.RegisterCodeClientAsync("introspect-snoop");
        await tokens.RegisterUserAsync("liam", "liam-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), owner, "liam", "liam-password-1");

        var introspection = await tokens.IntrospectAsync(body.Token("refresh_token"), snoop.ClientId, snoop.Secret!);

        Assert.False(introspection.GetProperty("active").GetBoolean());
        Assert.False(introspection.TryGetProperty("sub", out _));
    }
}
