using System.Net;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;
using static IdentityServer.Tests.Admin.AdminApi;

namespace IdentityServer.Tests.Admin;

public sealed class ClientsApiTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly AdminApi admin = new(factory);

    private TokenClient Tokens => admin.Tokens;

    private static Dictionary<string, object?> Worker(string clientId, string[]? scopes = null, string? secret = null) => new()
    {
        ["clientId"] = clientId,
        ["displayName"] = "Worker " + clientId,
        ["clientType"] = "confidential",
        ["clientSecret"] = secret,
        ["grantTypes"] = new[] { "client_credentials" },
        ["scopes"] = scopes ?? [],
    };

    private static Dictionary<string, object?> WebApp(string clientId) => new()
    {
        ["clientId"] = clientId,
        ["displayName"] = "Web " + clientId,
        ["clientType"] = "confidential",
        ["redirectUris"] = new[] { $"https://app.example.test/{clientId}/callback" },
        ["postLogoutRedirectUris"] = new[] { $"https://app.example.test/{clientId}/signed-out" },
        ["grantTypes"] = new[] { "authorization_code", "refresh_token" },
        ["scopes"] = new[] { "openid", "profile" },
        ["consentType"] = "explicit",
        ["allowedCorsOrigins"] = new[] { "https://app.example.test" },
    };

    private static Dictionary<string, object?> With(Dictionary<string, object?> body, string key, object? value)
    {
        body[key] = value;
        return body;
    }

    private static void AssertNoSecretMaterial(string text)
    {
        Assert.DoesNotContain("clientSecret", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("hash", text, StringComparison.OrdinalIgnoreCase);
        // OpenIddict stores PBKDF2 hashes as base64 with a recognisable prefix byte; no long base64 blob may leak.
        Assert.DoesNotContain("AQAAAA", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registering_a_confidential_client_without_a_secret_returns_a_generated_secret_once()
    {
        var clientId = Unique("worker");

        var created = await admin.PostAsync("/admin/clients", Worker(clientId));

        AssertStatus(created, HttpStatusCode.Created);
        Assert.Equal($"/admin/clients/{clientId}", created.Headers.Location?.OriginalString);
        var secret = created.Json.GetProperty("clientSecret").GetString();
        Assert.False(string.IsNullOrEmpty(secret));
        Assert.True(secret!.Length >= 32, "a generated secret carries at least 256 bits");
        Assert.Equal(clientId, created.Json.GetProperty("clientId").GetString());
        Assert.Equal("confidential", created.Json.GetProperty("clientType").GetString());

        var fetched = await admin.GetAsync($"/admin/clients/{clientId}");
        AssertStatus(fetched, HttpStatusCode.OK);
        AssertNoSecretMaterial(fetched.Text);
        Assert.DoesNotContain(secret, fetched.Text, StringComparison.Ordinal);

        var listed = await admin.GetAsync("/admin/clients");
        AssertStatus(listed, HttpStatusCode.OK);
        AssertNoSecretMaterial(listed.Text);
        Assert.Contains(listed.Json.EnumerateArray(), c => c.GetProperty("clientId").GetString() == clientId);
    }

    [Fact]
    public async Task Getting_a_client_shows_every_field_as_registered()
    {
        var clientId = Unique("web");

        var created = await admin.PostAsync("/admin/clients", WebApp(clientId));
        var fetched = await admin.GetAsync($"/admin/clients/{clientId}");

        AssertStatus(created, HttpStatusCode.Created);
        AssertStatus(fetched, HttpStatusCode.OK);
        var body = fetched.Json;
        Assert.Equal(clientId, body.GetProperty("clientId").GetString());
        Assert.Equal("Web " + clientId, body.GetProperty("displayName").GetString());
        Assert.Equal("confidential", body.GetProperty("clientType").GetString());
        Assert.Equal("explicit", body.GetProperty("consentType").GetString());
        Assert.Equal([$"https://app.example.test/{clientId}/callback"], Strings(body, "redirectUris"));
        Assert.Equal([$"https://app.example.test/{clientId}/signed-out"], Strings(body, "postLogoutRedirectUris"));
        Assert.Equal(["authorization_code", "refresh_token"], Strings(body, "grantTypes").Order());
        Assert.Equal(["openid", "profile"], Strings(body, "scopes").Order());
        Assert.Equal(["https://app.example.test"], Strings(body, "allowedCorsOrigins"));
    }

    [Fact]
    public async Task A_client_registered_with_its_own_secret_authenticates_with_it_and_the_secret_is_not_echoed()
    {
        var clientId = Unique("worker");
        const string secret = "my-own-long-secret-0123456789";

        var created = await admin.PostAsync("/admin/clients", Worker(clientId, secret: secret));

        AssertStatus(created, HttpStatusCode.Created);
        Assert.DoesNotContain(secret, created.Text, StringComparison.Ordinal);
        var token = await Tokens.ClientCredentialsTokenAsync(clientId, secret, "");
        Assert.False(string.IsNullOrEmpty(token));
    }

    [Fact]
    public async Task A_client_registered_through_the_api_gets_client_credentials_tokens_for_its_scope_audiences()
    {
        var id = Unique("cc");
        await Tokens.RegisterScopeAsync($"scope-{id}", $"aud-{id}-1", $"aud-{id}-2");
        var secret = await Tokens.RegisterClientAsync(Worker(id, [$"scope-{id}"]));

        var token = await Tokens.ClientCredentialsTokenAsync(id, secret!, $"scope-{id}");

        var jwt = await Tokens.ValidateAccessTokenAsync(token, audience: $"aud-{id}-1");
        Assert.Equal(id, jwt.GetClaim("client_id").Value);
        Assert.Contains($"aud-{id}-2", jwt.Audiences);
        Assert.Equal($"scope-{id}", jwt.GetClaim("scope").Value);
    }

    [Fact]
    public async Task A_client_cannot_get_a_scope_it_was_not_registered_for()
    {
        var id = Unique("cc");
        await Tokens.RegisterScopeAsync($"scope-{id}", $"aud-{id}");
        var secret = await Tokens.RegisterClientAsync(Worker(id));

        var (status, body) = await Tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = $"scope-{id}" }, id, secret);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        // OpenIddict answers a scope outside the client's permissions with invalid_request (ID2051), an unknown one with invalid_scope.
        Assert.Contains(body.GetProperty("error").GetString(), new[] { "invalid_request", "invalid_scope" });
        Assert.Contains("scope", body.GetProperty("error_description").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.False(body.TryGetProperty("access_token", out _), body.ToString());
    }

    [Fact]
    public async Task A_confidential_client_registered_through_the_api_completes_the_code_flow_with_pkce()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("web"));
        var username = Unique("user");
        var userId = await Tokens.RegisterUserAsync(username, "password-of-" + username);

        var body = await Tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, "password-of-" + username);

        var access = await Tokens.ValidateAccessTokenAsync(body.GetProperty("access_token").GetString()!);
        Assert.Equal(userId, access.Subject);
        Assert.Equal(client.ClientId, access.GetClaim("client_id").Value);
        Assert.False(string.IsNullOrEmpty(body.GetProperty("refresh_token").GetString()));
    }

    [Fact]
    public async Task A_public_client_has_no_secret_and_completes_the_code_flow_with_pkce()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("spa"), isPublic: true);
        var username = Unique("user");
        await Tokens.RegisterUserAsync(username, "password-of-" + username);

        var body = await Tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, "password-of-" + username);

        Assert.Null(client.Secret);
        Assert.False(string.IsNullOrEmpty(body.GetProperty("access_token").GetString()));
        var fetched = await admin.GetAsync($"/admin/clients/{client.ClientId}");
        Assert.Equal("public", fetched.Json.GetProperty("clientType").GetString());
        AssertNoSecretMaterial(fetched.Text);
    }

    [Fact]
    public async Task A_public_client_must_use_pkce()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("spa"), isPublic: true);
        var username = Unique("user");
        await Tokens.RegisterUserAsync(username, "password-of-" + username);

        var response = await new BrowserSession(factory).SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce: null), username, "password-of-" + username);

        // Refused before any login page: the browser goes back to the app with the error, and no code.
        var parameters = await ProtocolHelpers.AssertSentBackToTheClientAsync(response, client, "invalid_request");
        Assert.Contains("code_challenge", parameters["error_description"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redirect_uris_are_matched_exactly()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("web"));
        var other = client with { RedirectUri = client.RedirectUri + "/other" };

        var response = await new BrowserSession(factory).GoAsync(OAuthFlows.AuthorizeUrl(other, Pkce.Create()));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task The_password_grant_works_only_for_a_client_an_admin_allowed_it()
    {
        var username = Unique("user");
        await Tokens.RegisterUserAsync(username, "password-of-" + username);
        var allowed = Unique("legacy");
        var allowedSecret = await Tokens.RegisterClientAsync(new { clientId = allowed, grantTypes = new[] { "password" }, scopes = new[] { "openid" } });
        var notAllowed = Unique("worker");
        var notAllowedSecret = await Tokens.RegisterClientAsync(Worker(notAllowed, ["openid"]));
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = username, ["password"] = "password-of-" + username, ["scope"] = "openid" };

        var (allowedStatus, allowedBody) = await Tokens.TokenAsync(form, allowed, allowedSecret);
        var (refusedStatus, refusedBody) = await Tokens.TokenAsync(form, notAllowed, notAllowedSecret);

        Assert.True(allowedStatus == HttpStatusCode.OK, allowedBody.ToString());
        Assert.Equal(HttpStatusCode.BadRequest, refusedStatus);
        Assert.Equal("unauthorized_client", refusedBody.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Updating_a_client_replaces_its_settings_and_keeps_its_secret()
    {
        var clientId = Unique("web");
        var created = await admin.PostAsync("/admin/clients", WebApp(clientId));
        var secret = created.Json.GetProperty("clientSecret").GetString()!;
        var update = WebApp(clientId);
        update["displayName"] = "Renamed";
        update["redirectUris"] = new[] { "https://new.example.test/cb", "http://127.0.0.1:5000/cb" };
        update["grantTypes"] = new[] { "authorization_code", "client_credentials" };
        update["consentType"] = "implicit";

        var updated = await admin.PutAsync($"/admin/clients/{clientId}", update);
        var fetched = await admin.GetAsync($"/admin/clients/{clientId}");

        AssertStatus(updated, HttpStatusCode.OK);
        AssertNoSecretMaterial(updated.Text);
        Assert.Equal("Renamed", fetched.Json.GetProperty("displayName").GetString());
        Assert.Equal("implicit", fetched.Json.GetProperty("consentType").GetString());
        Assert.Equal(["http://127.0.0.1:5000/cb", "https://new.example.test/cb"], Strings(fetched.Json, "redirectUris").Order());
        Assert.Equal(["authorization_code", "client_credentials"], Strings(fetched.Json, "grantTypes").Order());
        Assert.False(string.IsNullOrEmpty(await Tokens.ClientCredentialsTokenAsync(clientId, secret, "")));
    }

    [Theory]
    [InlineData("grantTypes", "client_credentials")]
    [InlineData("scopes", "openid")]
    [InlineData("redirectUris", "http://127.0.0.1:7000/callback")]
    [InlineData("allowedCorsOrigins", "http://127.0.0.1:7000")]
    [InlineData("postLogoutRedirectUris", "http://127.0.0.1:7000/signed-out")]
    public async Task A_null_or_blank_item_in_a_list_is_a_400_keyed_by_the_field_not_dropped(string field, string good)
    {
        foreach (var bad in new[] { "null", "\"\"", "\"  \"" })
        {
            var clientId = Unique("lists");
            var json = System.Text.Json.JsonSerializer.Serialize(With(WebApp(clientId), field, Array.Empty<string>()), System.Text.Json.JsonSerializerOptions.Web).Replace(
                $"\"{field}\":[]", $"\"{field}\":[\"{good}\",{bad}]", StringComparison.Ordinal);

            AssertFieldError(await admin.SendRawAsync(HttpMethod.Post, "/admin/clients", json), field);
        }
    }

    [Fact]
    public async Task Updating_a_client_cannot_change_its_id()
    {
        var clientId = Unique("web");
        await admin.PostAsync("/admin/clients", WebApp(clientId));

        var response = await admin.PutAsync($"/admin/clients/{clientId}", WebApp(clientId + "-other"));

        AssertFieldError(response, "clientId");
        AssertStatus(await admin.GetAsync($"/admin/clients/{clientId}"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Updating_a_client_with_invalid_settings_is_a_400_and_changes_nothing()
    {
        var clientId = Unique("web");
        await admin.PostAsync("/admin/clients", WebApp(clientId));

        var response = await admin.PutAsync($"/admin/clients/{clientId}", With(WebApp(clientId), "redirectUris", new[] { "http://evil.example.test/cb" }));

        AssertFieldError(response, "redirectUris");
        var fetched = await admin.GetAsync($"/admin/clients/{clientId}");
        Assert.Equal([$"https://app.example.test/{clientId}/callback"], Strings(fetched.Json, "redirectUris"));
    }

    [Fact]
    public async Task Turning_a_confidential_client_public_drops_its_secret()
    {
        var clientId = Unique("web");
        var created = await admin.PostAsync("/admin/clients", WebApp(clientId));
        var secret = created.Json.GetProperty("clientSecret").GetString()!;

        var updated = await admin.PutAsync($"/admin/clients/{clientId}", With(WebApp(clientId), "clientType", "public"));

        AssertStatus(updated, HttpStatusCode.OK);
        Assert.Equal("public", updated.Json.GetProperty("clientType").GetString());
        AssertNoSecretMaterial(updated.Text);
        var (status, body) = await Tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = "x", ["redirect_uri"] = $"https://app.example.test/{clientId}/callback" },
            clientId, secret);
        Assert.True(status is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized, body.ToString());
        Assert.Equal("invalid_client", body.GetProperty("error").GetString());
        AssertFieldError(await admin.SendAsync(HttpMethod.Post, $"/admin/clients/{clientId}/secret"), "clientType");
    }

    [Fact]
    public async Task Rotating_a_secret_returns_a_new_one_once_and_the_old_one_stops_working()
    {
        var clientId = Unique("worker");
        var oldSecret = await Tokens.RegisterClientAsync(Worker(clientId));

        var rotated = await admin.SendAsync(HttpMethod.Post, $"/admin/clients/{clientId}/secret");

        AssertStatus(rotated, HttpStatusCode.OK);
        var newSecret = rotated.Json.GetProperty("clientSecret").GetString()!;
        Assert.Equal(clientId, rotated.Json.GetProperty("clientId").GetString());
        Assert.NotEqual(oldSecret, newSecret);
        var (oldStatus, oldBody) = await Tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, clientId, oldSecret);
        Assert.Equal(HttpStatusCode.Unauthorized, oldStatus);
        Assert.Equal("invalid_client", oldBody.GetProperty("error").GetString());
        Assert.False(string.IsNullOrEmpty(await Tokens.ClientCredentialsTokenAsync(clientId, newSecret, "")));
        var fetched = await admin.GetAsync($"/admin/clients/{clientId}");
        Assert.DoesNotContain(newSecret, fetched.Text, StringComparison.Ordinal);
        AssertNoSecretMaterial(fetched.Text);
    }

    [Fact]
    public async Task Rotating_the_secret_of_a_public_client_is_a_400_keyed_by_clientType()
    {
        var client = await Tokens.RegisterCodeClientAsync(Unique("spa"), isPublic: true);

        var response = await admin.SendAsync(HttpMethod.Post, $"/admin/clients/{client.ClientId}/secret");

        AssertFieldError(response, "clientType");
    }

    [Fact]
    public async Task Deleting_a_client_removes_it_and_revokes_its_tokens()
    {
        var id = Unique("doomed");
        var (scope, resourceClient, resourceSecret) = await admin.ResourceServerAsync(id);
        var secret = await Tokens.RegisterClientAsync(Worker(id, [scope]));
        var token = await Tokens.ClientCredentialsTokenAsync(id, secret!, scope);
        Assert.True(await admin.IsActiveAsync(token, resourceClient, resourceSecret));

        var deleted = await admin.DeleteAsync($"/admin/clients/{id}");

        AssertStatus(deleted, HttpStatusCode.NoContent);
        AssertProblem(await admin.GetAsync($"/admin/clients/{id}"), HttpStatusCode.NotFound);
        Assert.False(await admin.IsActiveAsync(token, resourceClient, resourceSecret));
        var (status, body) = await Tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, id, secret);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_client", body.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("D")]
    [InlineData("D-upper")]
    [InlineData("N")]
    public async Task A_client_id_that_is_a_users_id_in_any_spelling_is_refused_so_no_client_token_names_a_user(string spelling)
    {
        var userId = await Tokens.RegisterUserAsync(Unique("impersonated"), "impersonated-password-1");
        var guid = Guid.Parse(userId);
        var clientId = spelling switch { "D" => userId, "D-upper" => userId.ToUpperInvariant(), _ => guid.ToString(spelling) };

        var response = await admin.PostAsync("/admin/clients", Worker(clientId));

        // Its client_credentials tokens would carry sub = that user's id (RFC 9068 6 asks to prevent it).
        AssertFieldError(response, "clientId");
    }

    [Fact]
    public async Task A_client_whose_admin_scope_is_withdrawn_is_shut_out_of_the_admin_api_at_once()
    {
        var id = Unique("ex-admin");
        var secret = await Tokens.RegisterClientAsync(Worker(id, ["admin"]));
        var token = await Tokens.ClientCredentialsTokenAsync(id, secret!, "admin");
        AssertStatus(await admin.GetAsync("/admin/scopes", token: token), HttpStatusCode.OK);

        AssertStatus(await admin.PutAsync($"/admin/clients/{id}", new { scopes = Array.Empty<string>() }), HttpStatusCode.OK);

        // As for a user whose admin role is removed: its admin tokens stop now, not when they expire.
        AssertProblem(await admin.GetAsync("/admin/scopes", token: token), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Withdrawing_the_admin_scope_from_an_app_shuts_its_users_admin_tokens_out_of_the_admin_api_at_once()
    {
        var id = Unique("admin-console");
        var secret = await Tokens.RegisterClientAsync(new { clientId = id, grantTypes = new[] { "password" }, scopes = new[] { "openid", "admin" } });
        var (status, body) = await Tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = IdentityServerFactory.AdminUsername, ["password"] = IdentityServerFactory.AdminPassword, ["scope"] = "openid admin",
        }, id, secret);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var token = body.GetProperty("access_token").GetString()!;
        AssertStatus(await admin.GetAsync("/admin/scopes", token: token), HttpStatusCode.OK);

        AssertStatus(await admin.PutAsync($"/admin/clients/{id}", new { scopes = new[] { "openid" } }), HttpStatusCode.OK);

        AssertProblem(await admin.GetAsync("/admin/scopes", token: token), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_deleted_clients_tokens_stay_dead_when_a_client_of_the_same_id_is_registered_again()
    {
        var id = Unique("reborn");
        var (scope, resourceClient, resourceSecret) = await admin.ResourceServerAsync(id);
        var secret = await Tokens.RegisterClientAsync(Worker(id, [scope]));
        var token = await Tokens.ClientCredentialsTokenAsync(id, secret!, scope);
        AssertStatus(await admin.DeleteAsync($"/admin/clients/{id}"), HttpStatusCode.NoContent);

        // Another client under the same id, without even that scope: the first one's token is not its own.
        await Tokens.RegisterClientAsync(Worker(id, []));

        Assert.False(await admin.IsActiveAsync(token, resourceClient, resourceSecret));
    }

    [Fact]
    public async Task Deleting_a_client_makes_its_users_refresh_tokens_fail()
    {
        var id = Unique("doomed");
        var (scope, resourceClient, resourceSecret) = await admin.ResourceServerAsync(id);
        var client = await Tokens.RegisterCodeClientAsync(id, scopes: $"openid offline_access {scope}");
        var username = Unique("user");
        await Tokens.RegisterUserAsync(username, "password-of-" + username);
        var tokens = await Tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, "password-of-" + username, $"openid offline_access {scope}");
        var accessToken = tokens.GetProperty("access_token").GetString()!;
        Assert.True(await admin.IsActiveAsync(accessToken, resourceClient, resourceSecret));

        AssertStatus(await admin.DeleteAsync($"/admin/clients/{id}"), HttpStatusCode.NoContent);

        Assert.False(await admin.IsActiveAsync(accessToken, resourceClient, resourceSecret));
        var (status, _) = await Tokens.RefreshAsync(client, tokens.GetProperty("refresh_token").GetString()!);
        Assert.NotEqual(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Every_change_to_a_client_is_audited_without_its_secret()
    {
        var clientId = Unique("audited");
        var created = await admin.PostAsync("/admin/clients", Worker(clientId));
        var secret = created.Json.GetProperty("clientSecret").GetString()!;
        await admin.PutAsync($"/admin/clients/{clientId}", Worker(clientId, ["openid"]));
        var rotated = await admin.SendAsync(HttpMethod.Post, $"/admin/clients/{clientId}/secret");
        var newSecret = rotated.Json.GetProperty("clientSecret").GetString()!;
        await admin.DeleteAsync($"/admin/clients/{clientId}");

        var audit = await admin.AuditAsync(clientId);

        Assert.Equal(["client.created", "client.updated", "client.secret_rotated", "client.deleted"], audit.Select(a => a.Action));
        Assert.All(audit, a => Assert.Equal(IdentityServerFactory.AdminClientId, a.Actor));
        Assert.All(audit, a => Assert.Equal(factory.Time.GetUtcNow(), a.OccurredAt, TimeSpan.FromSeconds(1)));
        Assert.All(audit, a => Assert.DoesNotContain(secret, a.Details ?? "", StringComparison.Ordinal));
        Assert.All(audit, a => Assert.DoesNotContain(newSecret, a.Details ?? "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_changed_redirect_uri_consent_type_or_secret_shows_in_the_audit_trail()
    {
        var clientId = Unique("redirected");
        AssertStatus(await admin.PostAsync("/admin/clients", WebApp(clientId)), HttpStatusCode.Created);

        AssertStatus(await admin.PutAsync($"/admin/clients/{clientId}", new
        {
            redirectUris = new[] { "https://attacker.example/cb" }, consentType = "implicit", clientSecret = "a-secret-someone-chose-0123456789",
        }), HttpStatusCode.OK);

        var updated = (await admin.AuditAsync(clientId)).Single(a => a.Action == "client.updated");

        Assert.Contains("https://attacker.example/cb", updated.Details, StringComparison.Ordinal);
        Assert.Contains("\"consentType\":\"implicit\"", updated.Details, StringComparison.Ordinal);
        Assert.Contains("\"secretSet\":true", updated.Details, StringComparison.Ordinal);
        Assert.DoesNotContain("a-secret-someone-chose", updated.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_is_audited_as_stored_with_its_defaults_and_without_a_secret_when_it_has_none()
    {
        var clientId = Unique("spa-audited");
        AssertStatus(await admin.PostAsync("/admin/clients", new
        {
            clientId, clientType = "public", grantTypes = new[] { "authorization_code" }, redirectUris = new[] { "https://spa.example.test/cb" },
            scopes = new[] { "openid" },
        }), HttpStatusCode.Created);

        var created = (await admin.AuditAsync(clientId)).Single(a => a.Action == "client.created");

        Assert.Contains("\"consentType\":\"implicit\"", created.Details, StringComparison.Ordinal);
        Assert.Contains("\"secretSet\":false", created.Details, StringComparison.Ordinal);
        Assert.Contains("\"postLogoutRedirectUris\":[]", created.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registering_a_client_id_twice_is_a_409()
    {
        var clientId = Unique("twice");
        AssertStatus(await admin.PostAsync("/admin/clients", Worker(clientId)), HttpStatusCode.Created);

        var response = await admin.PostAsync("/admin/clients", Worker(clientId));

        AssertProblem(response, HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("GET", "")]
    [InlineData("PUT", "")]
    [InlineData("DELETE", "")]
    [InlineData("POST", "/secret")]
    public async Task An_unknown_client_is_a_404(string method, string suffix)
    {
        var clientId = Unique("ghost");

        var response = await admin.SendAsync(new HttpMethod(method), $"/admin/clients/{clientId}{suffix}", method == "PUT" ? Worker(clientId) : null);

        var problem = AssertProblem(response, HttpStatusCode.NotFound);
        Assert.Contains(clientId, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a-secret-with-an-accent-\u00e9-0123")]
    [InlineData("a-secret-with-a-tab-\t-0123456789")]
    public async Task A_secret_outside_printable_ascii_is_a_400_keyed_by_clientSecret(string secret)
    {
        AssertFieldError(await admin.PostAsync("/admin/clients", Worker(Unique("odd-secret"), secret: secret)), "clientSecret");
    }

    [Fact]
    public async Task A_secret_of_any_printable_ascii_works_in_http_basic()
    {
        // RFC 6749 2.3.1: id and secret are form-urlencoded before they go into the Basic header.
        var clientId = Unique("punctuated");
        const string secret = "s3cr3t a+b:c%d/e&f=g~h!*()-0123";
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync("/admin/clients", Worker(clientId, secret: secret))).Status);

        var (status, body) = await Tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, clientId, secret);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
    }

    [Fact]
    public async Task Registering_a_public_client_with_a_secret_is_a_400_keyed_by_clientSecret()
    {
        var body = With(WebApp(Unique("spa")), "clientType", "public");
        body["clientSecret"] = "a-secret-of-enough-length-123";

        AssertFieldError(await admin.PostAsync("/admin/clients", body), "clientSecret");
    }

    [Fact]
    public async Task Registering_a_public_client_for_client_credentials_is_a_400_keyed_by_grantTypes()
    {
        var body = With(Worker(Unique("spa")), "clientType", "public");

        AssertFieldError(await admin.PostAsync("/admin/clients", body), "grantTypes");
    }

    [Fact]
    public async Task A_secret_shorter_than_16_characters_is_a_400_keyed_by_clientSecret()
    {
        AssertFieldError(await admin.PostAsync("/admin/clients", Worker(Unique("worker"), secret: "short")), "clientSecret");
    }

    [Theory]
    [InlineData("callback")]
    [InlineData("/relative/callback")]
    [InlineData("https://app.example.test/callback#fragment")]
    [InlineData("http://app.example.test/callback")]
    [InlineData("ftp://app.example.test/callback")]
    [InlineData("https://app.example.test/café")]
    [InlineData("https://bücher.example.test/callback")]
    [InlineData("https://app.example.test/call back")]
    [InlineData("https://user:password@app.example.test/callback")]
    [InlineData("http://@127.0.0.1:7000/callback")]
    public async Task A_bad_redirect_uri_is_a_400_keyed_by_redirectUris(string uri)
    {
        var response = await admin.PostAsync("/admin/clients", With(WebApp(Unique("web")), "redirectUris", new[] { uri }));

        var messages = AssertFieldError(response, "redirectUris");
        Assert.Contains(messages, m => m.Contains(uri, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("application/json; charset=utf-7")]
    [InlineData("application/json; charset=no-such-charset")]
    public async Task A_body_in_a_charset_the_server_cannot_read_is_a_400_keyed_by_content_type(string contentType)
    {
        var json = System.Text.Json.JsonSerializer.Serialize(Worker(Unique("charset")), System.Text.Json.JsonSerializerOptions.Web);

        var response = await admin.SendRawAsync(HttpMethod.Post, "/admin/clients", json, contentType: contentType);

        AssertFieldError(response, "Content-Type");
    }

    [Fact]
    public async Task A_client_id_ending_in_a_newline_is_a_400()
    {
        var response = await admin.PostAsync("/admin/clients", Worker(Unique("newline") + "\n"));

        AssertFieldError(response, "clientId");
    }

    [Fact]
    public async Task A_cors_origin_with_characters_beyond_ascii_is_a_400_since_browsers_send_the_xn_form()
    {
        var response = await admin.PostAsync("/admin/clients", With(WebApp(Unique("web")), "allowedCorsOrigins", new[] { "https://bücher.example.test" }));

        AssertFieldError(response, "allowedCorsOrigins");
    }

    [Theory]
    [InlineData("redirectUris", 101, 40)]
    [InlineData("scopes", 101, 10)]
    [InlineData("allowedCorsOrigins", 101, 0)]
    [InlineData("redirectUris", 1, 2001)]
    public async Task A_list_of_more_than_100_items_or_an_item_over_2000_characters_is_a_400_keyed_by_its_field(string field, int count, int length)
    {
        var items = Enumerable.Range(0, count)
            .Select(i => field == "scopes" ? $"s{i}".PadRight(length, 'x') : $"https://app{i}.example.test/".PadRight(length, 'x'))
            .ToArray();

        var response = await admin.PostAsync("/admin/clients", With(WebApp(Unique("web")), field, items));

        Assert.Contains(count > 100 ? "At most 100 items." : "Each item is at most 2000 characters.", AssertFieldError(response, field));
    }

    [Theory]
    [InlineData("http://127.0.0.1:5000/cb")]
    [InlineData("http://localhost:5000/cb")]
    [InlineData("http://[::1]:5000/cb")]
    [InlineData("https://app.example.test/cb?x=1")]
    public async Task Loopback_http_and_https_redirect_uris_are_accepted(string uri)
    {
        var clientId = Unique("web");

        var response = await admin.PostAsync("/admin/clients", With(WebApp(clientId), "redirectUris", new[] { uri }));

        AssertStatus(response, HttpStatusCode.Created);
        Assert.Equal([uri], Strings((await admin.GetAsync($"/admin/clients/{clientId}")).Json, "redirectUris"));
    }

    [Theory]
    [InlineData("signed-out")]
    [InlineData("https://app.example.test/signed-out#x")]
    [InlineData("http://app.example.test/signed-out")]
    public async Task A_bad_post_logout_redirect_uri_is_a_400_keyed_by_postLogoutRedirectUris(string uri)
    {
        var response = await admin.PostAsync("/admin/clients", With(WebApp(Unique("web")), "postLogoutRedirectUris", new[] { uri }));

        AssertFieldError(response, "postLogoutRedirectUris");
    }

    [Theory]
    [InlineData("redirectUris", "http://LOCALHOST:7310/cb", "http://localhost:7310/cb")]
    [InlineData("redirectUris", "http://127.0.0.1:7309/", "http://127.0.0.1:7309")]
    [InlineData("postLogoutRedirectUris", "https://app.example.test:443/out", "https://app.example.test/out")]
    public async Task One_address_written_two_ways_is_a_400_rather_than_one_spelling_silently_dropped(string field, string first, string second)
    {
        var response = await admin.PostAsync("/admin/clients", With(WebApp(Unique("web")), field, new[] { first, second }));

        var messages = AssertFieldError(response, field);
        Assert.Contains(messages, m => m.Contains(first, StringComparison.Ordinal) && m.Contains(second, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_code_grant_without_any_redirect_uri_is_a_400_keyed_by_redirectUris()
    {
        AssertFieldError(await admin.PostAsync("/admin/clients", With(WebApp(Unique("web")), "redirectUris", Array.Empty<string>())), "redirectUris");
    }

    [Theory]
    [InlineData("implicit")]
    [InlineData("urn:ietf:params:oauth:grant-type:token-exchange")]
    [InlineData("magic")]
    public async Task An_unsupported_grant_type_is_a_400_keyed_by_grantTypes(string grantType)
    {
        var response = await admin.PostAsync("/admin/clients", With(WebApp(Unique("web")), "grantTypes", new[] { "authorization_code", grantType }));

        var messages = AssertFieldError(response, "grantTypes");
        Assert.Contains(messages, m => m.Contains(grantType, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_without_grant_types_is_a_400_keyed_by_grantTypes()
    {
        AssertFieldError(await admin.PostAsync("/admin/clients", With(WebApp(Unique("web")), "grantTypes", Array.Empty<string>())), "grantTypes");
    }

    [Fact]
    public async Task A_scope_that_does_not_exist_is_a_400_keyed_by_scopes()
    {
        var missing = Unique("no-such-scope");

        var messages = AssertFieldError(await admin.PostAsync("/admin/clients", With(WebApp(Unique("web")), "scopes", new[] { "openid", missing })), "scopes");

        Assert.Contains(messages, m => m.Contains(missing, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("clientId", "")]
    [InlineData("clientId", null)]
    [InlineData("clientId", "has spaces")]
    [InlineData("clientId", "slash/inside")]
    [InlineData("clientId", "..")]
    [InlineData("clientType", "hybrid")]
    [InlineData("consentType", "sometimes")]
    [InlineData("allowedCorsOrigins", "https://app.example.test/path")]
    [InlineData("allowedCorsOrigins", "not an origin")]
    [InlineData("displayName", "long")]
    public async Task An_invalid_field_is_a_400_keyed_by_that_field(string field, string? value)
    {
        var body = WebApp(Unique("web"));
        body[field] = field switch
        {
            "allowedCorsOrigins" => new[] { value },
            "displayName" => new string('x', 201),
            _ => value,
        };

        AssertFieldError(await admin.PostAsync("/admin/clients", body), field);
    }

    [Fact]
    public async Task Several_invalid_fields_are_all_reported_at_once()
    {
        var body = WebApp(Unique("web"));
        body["clientType"] = "public";
        body["clientSecret"] = "a-secret-of-enough-length-123";
        body["redirectUris"] = new[] { "http://evil.example.test/cb" };
        body["scopes"] = new[] { Unique("missing") };

        var response = await admin.PostAsync("/admin/clients", body);

        AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Equal(["clientSecret", "redirectUris", "scopes"], ErrorKeys(response).Order());
    }

    [Theory]
    [InlineData("{\"clientId\": ")]
    [InlineData("not json at all")]
    [InlineData("{\"clientId\": \"x\", \"grantTypes\": \"client_credentials\"}")]
    [InlineData("[1, 2, 3]")]
    public async Task A_malformed_json_body_is_a_400_problem_not_a_500(string json)
    {
        var response = await admin.SendRawAsync(HttpMethod.Post, "/admin/clients", json);

        AssertProblem(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_malformed_json_update_is_a_400_problem_not_a_500()
    {
        var clientId = Unique("web");
        await admin.PostAsync("/admin/clients", WebApp(clientId));

        AssertProblem(await admin.SendRawAsync(HttpMethod.Put, $"/admin/clients/{clientId}", "{\"redirectUris\": [1,"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_missing_body_is_a_400_problem_not_a_500()
    {
        AssertProblem(await admin.SendRawAsync(HttpMethod.Post, "/admin/clients", json: null), HttpStatusCode.BadRequest);
    }

    private static string[] Strings(JsonElement body, string property) =>
        [.. body.GetProperty(property).EnumerateArray().Select(e => e.GetString()!)];
}
