using System.Net;
using IdentityServer.Tests.Infrastructure;
using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.Abstractions;

namespace IdentityServer.Tests.Admin;

public sealed class PartialUpdateAndInputShapeTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly AdminApi api = new(factory);

    [Fact]
    public async Task Putting_only_a_display_name_keeps_every_other_field_of_a_public_client()
    {
        var clientId = AdminApi.Unique("spa");
        var created = await api.PostAsync("/admin/clients", new
        {
            clientId,
            clientType = "public",
            redirectUris = new[] { "http://127.0.0.1:5173/callback" },
            postLogoutRedirectUris = new[] { "http://127.0.0.1:5173/" },
            grantTypes = new[] { "authorization_code" },
            scopes = new[] { "openid", "offline_access" },
            consentType = "explicit",
            allowedCorsOrigins = new[] { "http://127.0.0.1:5173" },
        });
        Assert.Equal(HttpStatusCode.Created, created.Status);

        var updated = await api.PutAsync($"/admin/clients/{clientId}", new { displayName = "Renamed SPA" });

        Assert.Equal(HttpStatusCode.OK, updated.Status);
        var body = updated.Json;
        Assert.Equal("Renamed SPA", body.GetProperty("displayName").GetString());
        Assert.Equal("public", body.GetProperty("clientType").GetString());
        Assert.Equal("explicit", body.GetProperty("consentType").GetString());
        Assert.False(body.TryGetProperty("clientSecret", out _));
        Assert.Equal("http://127.0.0.1:5173", Assert.Single(body.GetProperty("allowedCorsOrigins").EnumerateArray()).GetString());
        Assert.Equal("http://127.0.0.1:5173/", Assert.Single(body.GetProperty("postLogoutRedirectUris").EnumerateArray()).GetString());
    }

    [Fact]
    public async Task Putting_only_enabled_false_disables_a_user_and_keeps_their_email_and_roles()
    {
        var username = AdminApi.Unique("partial");
        var created = await api.PostAsync("/admin/users", new { username, email = $"{username}@example.test", password = "partial-password-1", roles = new[] { "support" } });
        var id = created.Json.GetProperty("id").GetString();

        var updated = await api.PutAsync($"/admin/users/{id}", new { enabled = false });

        Assert.Equal(HttpStatusCode.OK, updated.Status);
        Assert.False(updated.Json.GetProperty("enabled").GetBoolean());
        Assert.Equal(username, updated.Json.GetProperty("username").GetString());
        Assert.Equal($"{username}@example.test", updated.Json.GetProperty("email").GetString());
        Assert.Equal("support", Assert.Single(updated.Json.GetProperty("roles").EnumerateArray()).GetString());
    }

    [Fact]
    public async Task A_client_still_holding_a_scope_deleted_in_a_race_can_be_renamed()
    {
        var scopeName = AdminApi.Unique("raced-scope");
        var clientId = AdminApi.Unique("raced-client");
        Assert.Equal(HttpStatusCode.Created, (await api.PostAsync("/admin/scopes", new { name = scopeName, resources = new[] { "raced-api" } })).Status);
        Assert.Equal(HttpStatusCode.Created, (await api.PostAsync("/admin/clients", new
        {
            clientId, grantTypes = new[] { "client_credentials" }, scopes = new[] { scopeName },
        })).Status);
        // What a client update racing the scope's delete leaves: the scope row gone, the client's permission kept.
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var scopes = scope.ServiceProvider.GetRequiredService<IOpenIddictScopeManager>();
            await scopes.DeleteAsync((await scopes.FindByNameAsync(scopeName))!);
        }

        var renamed = await api.PutAsync($"/admin/clients/{clientId}", new { displayName = "Renamed" });
        var namedAgain = await api.PutAsync($"/admin/clients/{clientId}", new { scopes = new[] { scopeName } });

        Assert.Equal(HttpStatusCode.OK, renamed.Status);
        Assert.Equal(HttpStatusCode.BadRequest, namedAgain.Status);
        Assert.True(namedAgain.Json.GetProperty("errors").TryGetProperty("scopes", out _));
    }

    [Fact]
    public async Task Changing_only_the_client_type_checks_the_stored_addresses_against_the_new_type()
    {
        var clientId = AdminApi.Unique("native");
        var created = await api.PostAsync("/admin/clients", new
        {
            clientId,
            clientType = "public",
            redirectUris = new[] { "com.example.app:/callback" },
            grantTypes = new[] { "authorization_code" },
            scopes = new[] { "openid" },
        });
        Assert.Equal(HttpStatusCode.Created, created.Status);

        var confidential = await api.PutAsync($"/admin/clients/{clientId}", new { clientType = "confidential" });

        Assert.Equal(HttpStatusCode.BadRequest, confidential.Status);
        Assert.True(confidential.Json.GetProperty("errors").TryGetProperty("redirectUris", out _));
    }

    [Fact]
    public async Task Values_an_earlier_version_stored_and_a_later_rule_refuses_do_not_block_changing_other_fields()
    {
        // Written past the admin API, as earlier versions accepted them: a display-name email, a control character
        // in a role, an address outside ASCII.
        var clientId = AdminApi.Unique("legacy-web");
        string userId;
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
            var user = new ApplicationUser { UserName = AdminApi.Unique("legacy"), Email = "Zed Person <zed@example.com>", Enabled = true };
            Assert.True((await users.CreateAsync(user)).Succeeded);
            var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
            Assert.True((await roles.CreateAsync(new IdentityRole("ops\u0007"))).Succeeded);
            Assert.True((await users.AddToRoleAsync(user, "ops\u0007")).Succeeded);
            userId = user.Id;

            var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
            await applications.CreateAsync(new OpenIddictApplicationDescriptor
            {
                ClientId = clientId,
                ClientType = OpenIddictConstants.ClientTypes.Public,
                RedirectUris = { new Uri("http://127.0.0.1:38580/c\u00e4llback") },
                Permissions =
                {
                    OpenIddictConstants.Permissions.Endpoints.Authorization, OpenIddictConstants.Permissions.Endpoints.Token,
                    OpenIddictConstants.Permissions.GrantTypes.AuthorizationCode, OpenIddictConstants.Permissions.ResponseTypes.Code,
                    OpenIddictConstants.Permissions.Prefixes.Scope + "openid",
                },
            });
        }

        var disabled = await api.PutAsync($"/admin/users/{userId}", new { enabled = false });
        var emailChanged = await api.PutAsync($"/admin/users/{userId}", new { email = "zed@example.com" });
        var renamed = await api.PutAsync($"/admin/clients/{clientId}", new { displayName = "Legacy web" });
        var stillRefused = await api.PutAsync($"/admin/clients/{clientId}", new { redirectUris = new[] { "http://127.0.0.1:38580/c\u00e4llback" } });

        Assert.Equal(HttpStatusCode.OK, disabled.Status);
        Assert.False(disabled.Json.GetProperty("enabled").GetBoolean());
        Assert.Equal("Zed Person <zed@example.com>", disabled.Json.GetProperty("email").GetString());
        Assert.Equal(HttpStatusCode.OK, emailChanged.Status);
        Assert.Equal("ops\u0007", Assert.Single(emailChanged.Json.GetProperty("roles").EnumerateArray()).GetString());
        Assert.Equal(HttpStatusCode.OK, renamed.Status);
        Assert.Equal("Legacy web", renamed.Json.GetProperty("displayName").GetString());
        // Named again, the address meets today's rule.
        Assert.Equal(HttpStatusCode.BadRequest, stillRefused.Status);
        Assert.True(stillRefused.Json.GetProperty("errors").TryGetProperty("redirectUris", out _));
    }

    [Theory]
    [InlineData("{\"clientId\": \"x\", \"redirectUris\": \"not-a-list\", \"grantTypes\": [\"client_credentials\"]}", "redirectUris")]
    [InlineData("{\"clientId\": 123}", "clientId")]
    [InlineData("{\"clientId\":", "clientId")]
    [InlineData("", "body")]
    public async Task A_body_that_is_not_valid_json_for_a_client_is_a_400_keyed_by_the_field(string json, string field)
    {
        var response = await api.SendRawAsync(HttpMethod.Post, "/admin/clients", json);

        AdminApi.AssertFieldError(response, field);
    }

    [Fact]
    public async Task Two_users_cannot_share_an_email_and_signing_in_by_email_works()
    {
        var first = AdminApi.Unique("mail-owner");
        var email = $"{first}@example.test";
        await api.Tokens.RegisterUserAsync(first, "mail-password-1", email);

        var duplicate = await api.PostAsync("/admin/users", new { username = AdminApi.Unique("mail-thief"), email = email.ToUpperInvariant(), password = "mail-password-2" });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.Status);

        var client = await api.Tokens.RegisterCodeClientAsync(AdminApi.Unique("mail-app"));
        var browser = new BrowserSession(factory);
        var body = await api.Tokens.LogInAndRedeemAsync(browser, client, email, "mail-password-1");
        Assert.False(string.IsNullOrEmpty(body.GetProperty("access_token").GetString()));
    }

    [Fact]
    public async Task A_native_public_client_may_use_a_reverse_domain_redirect_scheme_but_not_javascript()
    {
        var native = await api.PostAsync("/admin/clients", new
        {
            clientId = AdminApi.Unique("native"),
            clientType = "public",
            redirectUris = new[] { "com.example.app:/oauth2redirect" },
            grantTypes = new[] { "authorization_code" },
            scopes = new[] { "openid" },
        });
        var script = await api.PostAsync("/admin/clients", new
        {
            clientId = AdminApi.Unique("script"),
            clientType = "public",
            redirectUris = new[] { "javascript:alert(1)" },
            grantTypes = new[] { "authorization_code" },
            scopes = new[] { "openid" },
        });
        var confidential = await api.PostAsync("/admin/clients", new
        {
            clientId = AdminApi.Unique("server"),
            clientType = "confidential",
            redirectUris = new[] { "com.example.app:/oauth2redirect" },
            grantTypes = new[] { "authorization_code" },
            scopes = new[] { "openid" },
        });

        Assert.Equal(HttpStatusCode.Created, native.Status);
        AdminApi.AssertFieldError(script, "redirectUris");
        AdminApi.AssertFieldError(confidential, "redirectUris");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/plain")]
    public async Task A_body_that_is_not_json_is_a_415_problem_titled_unsupported_media_type(string? contentType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/clients")
        {
            Content = new ByteArrayContent("{\"clientId\":\"x\"}"u8.ToArray()),
        };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", await api.AdminTokenAsync());

        using var response = await factory.CreateClient().SendAsync(request);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"title\":\"Unsupported Media Type\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
