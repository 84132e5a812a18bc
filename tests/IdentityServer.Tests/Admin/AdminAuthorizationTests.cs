using System.Net;
using IdentityServer.Tests.Infrastructure;
using static IdentityServer.Tests.Admin.AdminApi;

namespace IdentityServer.Tests.Admin;

public sealed class AdminAuthorizationTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly AdminApi admin = new(factory);

    private TokenClient Tokens => admin.Tokens;

    /// <summary>Every admin endpoint, with a body where it takes one.</summary>
    public static TheoryData<string, string, string?> Endpoints => new()
    {
        { "POST", "/admin/clients", "{\"clientId\":\"x\",\"grantTypes\":[\"client_credentials\"]}" },
        { "GET", "/admin/clients", null },
        { "GET", "/admin/clients/admin-cli", null },
        { "PUT", "/admin/clients/admin-cli", "{\"grantTypes\":[\"client_credentials\"]}" },
        { "DELETE", "/admin/clients/admin-cli", null },
        { "POST", "/admin/clients/admin-cli/secret", null },
        { "POST", "/admin/scopes", "{\"name\":\"x\"}" },
        { "GET", "/admin/scopes", null },
        { "GET", "/admin/scopes/admin", null },
        { "PUT", "/admin/scopes/admin", "{\"name\":\"admin\"}" },
        { "DELETE", "/admin/scopes/admin", null },
        { "POST", "/admin/users", "{\"username\":\"x\",\"password\":\"xxxxxxxxxx\"}" },
        { "GET", "/admin/users?search=&page=&pageSize=", null },
        { "GET", "/admin/users/some-id", null },
        { "PUT", "/admin/users/some-id", "{\"username\":\"x\"}" },
        { "DELETE", "/admin/users/some-id", null },
        { "POST", "/admin/users/some-id/password", "{\"password\":\"xxxxxxxxxx\"}" },
    };

    private async Task<string> TokenWithoutAdminScopeAsync()
    {
        var clientId = Unique("worker");
        await Tokens.RegisterScopeAsync(clientId + "-scope", clientId + "-api");
        var secret = await Tokens.RegisterClientAsync(new { clientId, grantTypes = new[] { "client_credentials" }, scopes = new[] { clientId + "-scope" } });
        return await Tokens.ClientCredentialsTokenAsync(clientId, secret!, clientId + "-scope");
    }

    private static void AssertUnauthorized(AdminResponse response)
    {
        AssertProblem(response, HttpStatusCode.Unauthorized);
        Assert.StartsWith("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Calling_the_admin_api_without_a_token_is_a_401_problem(string method, string path, string? body)
    {
        AssertUnauthorized(await admin.SendRawAsync(new HttpMethod(method), path, body, token: ""));
    }

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Calling_the_admin_api_with_a_token_without_the_admin_scope_is_a_403_problem(string method, string path, string? body)
    {
        var response = await admin.SendRawAsync(new HttpMethod(method), path, body, await TokenWithoutAdminScopeAsync());

        AssertProblem(response, HttpStatusCode.Forbidden);
        Assert.Contains("insufficient_scope", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_admin_token_only_counts_in_the_authorization_header_not_in_the_url_or_a_form()
    {
        // Tokens in URLs end up in logs, history and Referer headers (RFC 6750 2.3, RFC 9700): Keycloak and Duende
        // read the Authorization header only.
        var token = await Tokens.AdminTokenAsync();

        using var inQuery = await Tokens.Http.GetAsync("/admin/scopes?access_token=" + Uri.EscapeDataString(token));
        using var inForm = await Tokens.Http.PostAsync("/admin/clients/admin-cli/secret",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["access_token"] = token }));

        Assert.Equal(HttpStatusCode.Unauthorized, inQuery.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, inForm.StatusCode);
    }

    [Fact]
    public async Task A_garbage_bearer_token_is_a_401_problem()
    {
        var response = await admin.GetAsync("/admin/clients", token: "not-a-token");

        AssertUnauthorized(response);
        // RFC 6750 3.1: the client learns its token was refused, not merely that one is needed.
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_signed_by_someone_else_is_a_401_problem()
    {
        var token = await admin.AdminTokenAsync();
        var parts = token.Split('.');
        var forged = parts[0] + "." + parts[1] + "." + new string('A', parts[2].Length);

        AssertUnauthorized(await admin.GetAsync("/admin/clients", token: forged));
    }

    [Fact]
    public async Task An_id_token_is_not_accepted_as_a_bearer_token()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("web"), scopes: "openid admin");
        var body = await Tokens.LogInAndRedeemAsync(new BrowserSession(factory), client,
            IdentityServerFactory.AdminUsername, IdentityServerFactory.AdminPassword, "openid admin");

        AssertUnauthorized(await admin.GetAsync("/admin/clients", token: body.GetProperty("id_token").GetString()));
    }

    [Fact]
    public async Task An_expired_admin_token_is_a_401_problem()
    {
        var token = await admin.AdminTokenAsync();
        AssertStatus(await admin.GetAsync("/admin/scopes", token), HttpStatusCode.OK);

        factory.Time.Advance(TimeSpan.FromMinutes(10));

        AssertUnauthorized(await admin.GetAsync("/admin/scopes", token));
    }

    [Theory]
    [InlineData("PATCH", "/admin/clients/admin-cli", "{}")]
    [InlineData("POST", "/admin/clients/admin-cli", "{}")]
    [InlineData("GET", "/admin", null)]
    [InlineData("GET", "/admin/no-such-thing", null)]
    public async Task A_wrong_method_or_path_under_admin_without_a_token_is_a_401_not_a_map_of_the_routes(string method, string path, string? body)
    {
        AssertUnauthorized(await admin.SendRawAsync(new HttpMethod(method), path, body, token: ""));
        AssertProblem(await admin.SendRawAsync(new HttpMethod(method), path, body, await TokenWithoutAdminScopeAsync()), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_body_that_is_not_json_without_a_token_is_a_401()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/users") { Content = new StringContent("x", System.Text.Encoding.UTF8, "text/plain") };
        using var response = await Tokens.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task An_admin_gets_the_routers_answers_for_a_wrong_method_or_path_and_head_answers_like_get()
    {
        AssertProblem(await admin.SendRawAsync(new HttpMethod("PATCH"), "/admin/clients/admin-cli", "{}"), HttpStatusCode.MethodNotAllowed);
        AssertProblem(await admin.SendRawAsync(HttpMethod.Get, "/admin/no-such-thing", null), HttpStatusCode.NotFound);

        foreach (var path in new[] { "/admin/clients", "/admin/clients/admin-cli", "/admin/scopes", "/admin/users", "/admin/audit" })
        {
            var head = await admin.SendRawAsync(HttpMethod.Head, path, null);
            Assert.True(head.Status == HttpStatusCode.OK, $"HEAD {path}: {(int)head.Status}");
            // Kestrel drops a HEAD response's body; the in-memory test server does not, so only the headers are checked here.
            Assert.Equal("application/json", head.MediaType);
        }

        AssertUnauthorized(await admin.SendRawAsync(HttpMethod.Head, "/admin/clients", null, token: ""));
    }

    [Fact]
    public async Task A_request_without_a_token_is_a_401_even_when_its_body_is_malformed()
    {
        AssertUnauthorized(await admin.SendRawAsync(HttpMethod.Post, "/admin/clients", "{\"clientId\": ", token: ""));
    }

    [Fact]
    public async Task A_request_without_the_admin_scope_is_a_403_even_when_its_body_is_malformed()
    {
        AssertProblem(await admin.SendRawAsync(HttpMethod.Post, "/admin/users", "{{{", await TokenWithoutAdminScopeAsync()), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task The_bootstrap_admin_clients_token_carries_the_admin_scope_and_works()
    {
        var token = await admin.AdminTokenAsync();

        var jwt = await Tokens.ValidateAccessTokenAsync(token);
        Assert.Equal("admin", jwt.GetClaim("scope").Value);
        Assert.Contains("identityserver-admin", jwt.Audiences);
        AssertStatus(await admin.GetAsync("/admin/clients", token), HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_user_with_the_admin_role_who_asks_for_the_admin_scope_can_use_the_api_and_is_the_audited_actor()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("console"), scopes: "openid admin");
        var username = Unique("operator");
        var userId = await Tokens.RegisterUserAsync(username, "password-of-" + username, null, "admin");
        var body = await Tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, "password-of-" + username, "openid admin");
        var token = body.GetProperty("access_token").GetString()!;
        var scopeName = Unique("by-user");

        var created = await admin.PostAsync("/admin/scopes", new { name = scopeName, resources = new[] { "user-made-api" } }, token);

        AssertStatus(created, HttpStatusCode.Created);
        var audit = Assert.Single(await admin.AuditAsync(scopeName));
        Assert.Equal(userId, audit.Actor);
    }

    [Fact]
    public async Task The_bootstrap_admin_user_can_use_the_api_with_a_user_token()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("console"), scopes: "openid admin");
        var body = await Tokens.LogInAndRedeemAsync(new BrowserSession(factory), client,
            IdentityServerFactory.AdminUsername, IdentityServerFactory.AdminPassword, "openid admin");

        var response = await admin.GetAsync("/admin/users?search=" + IdentityServerFactory.AdminUsername, body.GetProperty("access_token").GetString());

        AssertStatus(response, HttpStatusCode.OK);
        Assert.Contains(response.Json.GetProperty("items").EnumerateArray(),
            u => u.GetProperty("username").GetString() == IdentityServerFactory.AdminUsername
                && u.GetProperty("roles").EnumerateArray().Any(r => r.GetString() == "admin"));
    }

    [Fact]
    public async Task A_user_without_the_admin_role_who_asks_for_the_admin_scope_does_not_get_it()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("console"), scopes: "openid admin");
        var username = Unique("intruder");
        await Tokens.RegisterUserAsync(username, "password-of-" + username, null, "support");
        var body = await Tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, "password-of-" + username, "openid admin");
        var token = body.GetProperty("access_token").GetString()!;

        var jwt = await Tokens.ValidateAccessTokenAsync(token);
        Assert.DoesNotContain("admin", jwt.GetClaim("scope").Value.Split(' '));
        if (body.TryGetProperty("scope", out var granted))
        {
            Assert.DoesNotContain("admin", granted.GetString()!.Split(' '));
        }

        AssertProblem(await admin.GetAsync("/admin/users", token), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_user_without_the_admin_role_who_asks_only_for_the_admin_scope_is_sent_back_with_invalid_scope()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("console"), scopes: "admin");
        var username = Unique("snooper");
        await Tokens.RegisterUserAsync(username, "password-of-" + username, null, "support");

        var answer = await new BrowserSession(factory).SignInAsync(
            OAuthFlows.AuthorizeUrl(client, Pkce.Create(), scope: "admin"), username, "password-of-" + username);

        var parameters = BrowserSession.CallbackParameters(answer);
        Assert.Equal("invalid_scope", parameters["error"]);
        Assert.Equal("xyz", parameters["state"]);
        Assert.False(parameters.ContainsKey("code"));
    }

    [Fact]
    public async Task A_password_grant_asking_only_for_the_admin_scope_by_a_user_without_the_role_is_invalid_scope()
    {
        var clientId = Unique("legacy-console");
        var secret = await Tokens.RegisterClientAsync(new { clientId, grantTypes = new[] { "password" }, scopes = new[] { "openid", "admin" } });
        var username = Unique("prober");
        await Tokens.RegisterUserAsync(username, "password-of-" + username, null, "support");

        var (status, body) = await Tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = username, ["password"] = "password-of-" + username, ["scope"] = "admin",
        }, clientId, secret!);
        var (partialStatus, partial) = await Tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = username, ["password"] = "password-of-" + username, ["scope"] = "openid admin",
        }, clientId, secret!);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_scope", body.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.OK, partialStatus);
        Assert.Equal("openid", partial.GetProperty("scope").GetString());
    }

    [Fact]
    public async Task A_user_who_loses_the_admin_role_is_shut_out_at_once_and_gets_no_admin_scope_at_the_next_refresh()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("console"), scopes: "openid offline_access admin");
        var username = Unique("demoted");
        var userId = await Tokens.RegisterUserAsync(username, "password-of-" + username, null, "admin");
        var body = await Tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, "password-of-" + username, "openid offline_access admin");
        var issuedAsAdmin = body.GetProperty("access_token").GetString();
        AssertStatus(await admin.GetAsync("/admin/scopes", issuedAsAdmin), HttpStatusCode.OK);

        AssertStatus(await admin.PutAsync($"/admin/users/{userId}", new { username, roles = Array.Empty<string>(), enabled = true }), HttpStatusCode.OK);
        AssertUnauthorized(await admin.GetAsync("/admin/scopes", issuedAsAdmin));
        var (status, refreshed) = await Tokens.RefreshAsync(client, body.GetProperty("refresh_token").GetString()!);

        Assert.True(status == HttpStatusCode.OK, refreshed.ToString());
        var jwt = await Tokens.ValidateAccessTokenAsync(refreshed.GetProperty("access_token").GetString()!);
        Assert.DoesNotContain("identityserver-admin", jwt.Audiences);
        AssertProblem(await admin.GetAsync("/admin/scopes", refreshed.GetProperty("access_token").GetString()), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_client_not_registered_for_the_admin_scope_cannot_get_it()
    {
        var clientId = Unique("worker");
        var secret = await Tokens.RegisterClientAsync(new { clientId, grantTypes = new[] { "client_credentials" } });

        var (status, body) = await Tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin" }, clientId, secret);

        Assert.True(status == HttpStatusCode.BadRequest, body.ToString());
        Assert.False(body.TryGetProperty("access_token", out _));
        // OpenIddict answers a scope outside the client's permissions with invalid_request (ID2051), an unknown one with invalid_scope.
        Assert.Contains(body.GetProperty("error").GetString(), new[] { "invalid_request", "invalid_scope" });
        Assert.Contains("scope", body.GetProperty("error_description").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_client_registered_for_the_admin_scope_through_the_api_can_administer_and_loses_access_when_deleted()
    {
        var clientId = Unique("automation");
        var secret = await Tokens.RegisterClientAsync(new { clientId, grantTypes = new[] { "client_credentials" }, scopes = new[] { "admin" } });
        var token = await Tokens.ClientCredentialsTokenAsync(clientId, secret!, "admin");
        AssertStatus(await admin.GetAsync("/admin/clients", token), HttpStatusCode.OK);

        AssertStatus(await admin.DeleteAsync($"/admin/clients/{clientId}"), HttpStatusCode.NoContent);

        AssertUnauthorized(await admin.GetAsync("/admin/clients", token));
    }

    [Fact]
    public async Task A_deleted_admin_users_token_stops_opening_the_api_at_once()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("console"), scopes: "openid admin");
        var username = Unique("leaver");
        var userId = await Tokens.RegisterUserAsync(username, "password-of-" + username, null, "admin");
        var body = await Tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, "password-of-" + username, "openid admin");
        var token = body.GetProperty("access_token").GetString()!;
        AssertStatus(await admin.GetAsync("/admin/scopes", token), HttpStatusCode.OK);

        AssertStatus(await admin.DeleteAsync($"/admin/users/{userId}"), HttpStatusCode.NoContent);

        AssertUnauthorized(await admin.GetAsync("/admin/scopes", token));
    }

    [Fact]
    public async Task Sending_an_admin_users_roles_in_another_case_changes_nothing_and_their_token_keeps_working()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("console"), scopes: "openid admin");
        var username = Unique("casey");
        var userId = await Tokens.RegisterUserAsync(username, "password-of-" + username, null, "admin");
        var body = await Tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, "password-of-" + username, "openid admin");
        var token = body.GetProperty("access_token").GetString()!;

        var updated = await admin.PutAsync($"/admin/users/{userId}", new { roles = new[] { "ADMIN" } });

        AssertStatus(updated, HttpStatusCode.OK);
        Assert.Equal(["admin"], updated.Json.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        AssertStatus(await admin.GetAsync("/admin/scopes", token), HttpStatusCode.OK);
    }
}
