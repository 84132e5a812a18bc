using System.Net;
using System.Text.Json;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static IdentityServer.Tests.Admin.AdminApi;

namespace IdentityServer.Tests.Admin;

public sealed class UsersApiTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly AdminApi admin = new(factory);

    private TokenClient Tokens => admin.Tokens;

    private static string PasswordOf(string username) => "password-of-" + username;

    private static object NewUser(string username, string[]? roles = null, bool? enabled = null, string? email = null) =>
        new { username, email = email ?? $"{username}@example.test", password = PasswordOf(username), roles = roles ?? [], enabled };

    private static object Profile(string username, string? email = null, string[]? roles = null, bool enabled = true) =>
        new { username, email = email ?? $"{username}@example.test", roles = roles ?? [], enabled };

    private async Task<(string Id, JsonElement Body)> CreateAsync(string username, string[]? roles = null)
    {
        var created = await admin.PostAsync("/admin/users", NewUser(username, roles));
        AssertStatus(created, HttpStatusCode.Created);
        return (created.Json.GetProperty("id").GetString()!, created.Json);
    }

    /// <summary>A client an admin allowed the password grant, so the tests can sign users in without a browser.</summary>
    private async Task<(string ClientId, string Secret)> PasswordClientAsync()
    {
        var clientId = Unique("legacy");
        var secret = await Tokens.RegisterClientAsync(new
        {
            clientId,
            grantTypes = new[] { "password", "refresh_token" },
            scopes = new[] { "openid", "offline_access" },
        });
        return (clientId, secret!);
    }

    private Task<(HttpStatusCode Status, JsonElement Body)> PasswordGrantAsync((string ClientId, string Secret) client, string username, string password, string scope = "openid offline_access") =>
        Tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = username, ["password"] = password, ["scope"] = scope },
            client.ClientId, client.Secret);

    private Task<(HttpStatusCode Status, JsonElement Body)> RefreshAsync((string ClientId, string Secret) client, string refreshToken) =>
        Tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken }, client.ClientId, client.Secret);

    private static void AssertNoPasswordMaterial(AdminResponse response, string password)
    {
        Assert.DoesNotContain(password, response.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("password", response.Text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("hash", response.Text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("securityStamp", response.Text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("$2", response.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Creating_a_user_returns_201_with_its_location_and_no_password_or_hash()
    {
        var username = Unique("alice");

        var created = await admin.PostAsync("/admin/users", NewUser(username, ["auditor", "admin"]));

        AssertStatus(created, HttpStatusCode.Created);
        var id = created.Json.GetProperty("id").GetString()!;
        Assert.Equal($"/admin/users/{id}", created.Headers.Location?.OriginalString);
        Assert.Equal(username, created.Json.GetProperty("username").GetString());
        Assert.Equal($"{username}@example.test", created.Json.GetProperty("email").GetString());
        Assert.Equal(["admin", "auditor"], created.Json.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.True(created.Json.GetProperty("enabled").GetBoolean());
        Assert.Equal(factory.Time.GetUtcNow(), created.Json.GetProperty("createdAt").GetDateTimeOffset(), TimeSpan.FromSeconds(1));
        AssertNoPasswordMaterial(created, PasswordOf(username));
    }

    [Fact]
    public async Task Getting_a_user_shows_its_profile_and_no_password_or_hash()
    {
        var username = Unique("bob");
        var (id, _) = await CreateAsync(username, ["reader"]);

        var fetched = await admin.GetAsync($"/admin/users/{id}");

        AssertStatus(fetched, HttpStatusCode.OK);
        Assert.Equal(id, fetched.Json.GetProperty("id").GetString());
        Assert.Equal(username, fetched.Json.GetProperty("username").GetString());
        Assert.Equal(["reader"], fetched.Json.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        AssertNoPasswordMaterial(fetched, PasswordOf(username));
    }

    [Fact]
    public async Task A_created_user_can_sign_in_with_the_password_the_admin_set()
    {
        var username = Unique("carol");
        await CreateAsync(username);
        var client = await PasswordClientAsync();

        var (status, body) = await PasswordGrantAsync(client, username, PasswordOf(username));

        Assert.True(status == HttpStatusCode.OK, body.ToString());
    }

    [Fact]
    public async Task A_password_or_role_no_request_could_ever_carry_is_a_400()
    {
        var withNul = await admin.PostAsync("/admin/users", new { username = Unique("nul"), password = "nul-password\u0000-1", roles = Array.Empty<string>() });
        var withControl = await admin.PostAsync("/admin/users", NewUser(Unique("ctl"), ["read\u0000er"]));

        AssertFieldError(withNul, "password");
        AssertFieldError(withControl, "roles");
    }

    [Fact]
    public async Task A_nul_character_in_the_search_is_a_400_keyed_by_query()
    {
        var response = await admin.GetAsync("/admin/users?search=%00");

        Assert.Contains(AssertFieldError(response, "query"), message => message.Contains("NUL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Listing_users_pages_through_the_search_results_in_username_order()
    {
        var prefix = Unique("pg");
        var names = Enumerable.Range(1, 5).Select(i => $"{prefix}-{i}").ToList();
        foreach (var name in names.AsEnumerable().Reverse())
        {
            await CreateAsync(name);
        }

        var pages = new List<JsonElement>();
        for (var page = 1; page <= 4; page++)
        {
            var response = await admin.GetAsync($"/admin/users?search={prefix}&page={page}&pageSize=2");
            AssertStatus(response, HttpStatusCode.OK);
            pages.Add(response.Json);
        }

        Assert.All(pages, p => Assert.Equal(5, p.GetProperty("total").GetInt32()));
        Assert.All(pages, p => Assert.Equal(2, p.GetProperty("pageSize").GetInt32()));
        Assert.Equal([1, 2, 3, 4], pages.Select(p => p.GetProperty("page").GetInt32()));
        Assert.Equal([2, 2, 1, 0], pages.Select(p => p.GetProperty("items").GetArrayLength()));
        var listed = pages.SelectMany(p => p.GetProperty("items").EnumerateArray().Select(u => u.GetProperty("username").GetString()!)).ToList();
        Assert.Equal(names, listed);
        Assert.All(pages, p => Assert.DoesNotContain("hash", p.GetRawText(), StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Searching_users_matches_the_email_too_and_ignores_case()
    {
        var domain = Unique("corp").ToUpperInvariant();
        var username = Unique("dave");
        var created = await admin.PostAsync("/admin/users", NewUser(username, email: $"dave@{domain}.test"));
        AssertStatus(created, HttpStatusCode.Created);

        var response = await admin.GetAsync($"/admin/users?search={domain.ToLowerInvariant()}");

        AssertStatus(response, HttpStatusCode.OK);
        var items = response.Json.GetProperty("items");
        Assert.Equal(1, response.Json.GetProperty("total").GetInt32());
        Assert.Equal(username, items[0].GetProperty("username").GetString());
    }

    [Fact]
    public async Task Listing_users_with_empty_query_values_uses_the_defaults()
    {
        await CreateAsync(Unique("erin"));

        var response = await admin.GetAsync("/admin/users?search=&page=&pageSize=");

        AssertStatus(response, HttpStatusCode.OK);
        Assert.Equal(1, response.Json.GetProperty("page").GetInt32());
        Assert.Equal(20, response.Json.GetProperty("pageSize").GetInt32());
        Assert.True(response.Json.GetProperty("total").GetInt32() >= 2, "the bootstrap admin and the new user are both listed");
        Assert.Contains(response.Json.GetProperty("items").EnumerateArray(), u => u.GetProperty("username").GetString() == IdentityServerFactory.AdminUsername);
    }

    [Theory]
    [InlineData("page=0", "page")]
    [InlineData("page=-1", "page")]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("pageSize=101", "pageSize")]
    [InlineData("page=abc", "page")]
    [InlineData("pageSize=lots", "pageSize")]
    [InlineData("page=2147483647", "page")]
    [InlineData("page=99999999999", "page")]
    [InlineData("page=1.5", "page")]
    public async Task A_bad_paging_value_is_a_400_keyed_by_that_parameter(string query, string field)
    {
        AssertFieldError(await admin.GetAsync($"/admin/users?{query}"), field);
    }

    [Fact]
    public async Task More_than_50_roles_is_a_400_keyed_by_roles_since_every_role_travels_in_each_token()
    {
        var roles = Enumerable.Range(0, 51).Select(i => $"role-{i}").ToArray();

        var response = await admin.PostAsync("/admin/users", NewUser(Unique("many-roles"), roles));

        Assert.Contains(AssertFieldError(response, "roles"), message => message.Contains("50", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Updating_a_user_changes_its_profile_and_roles()
    {
        var username = Unique("frank");
        var (id, _) = await CreateAsync(username, ["reader", "writer"]);
        var renamed = Unique("franklin");

        var updated = await admin.PutAsync($"/admin/users/{id}", Profile(renamed, email: $"{renamed}@new.test", roles: ["writer", "admin"]));

        AssertStatus(updated, HttpStatusCode.OK);
        var fetched = await admin.GetAsync($"/admin/users/{id}");
        Assert.Equal(renamed, fetched.Json.GetProperty("username").GetString());
        Assert.Equal($"{renamed}@new.test", fetched.Json.GetProperty("email").GetString());
        Assert.Equal(["admin", "writer"], fetched.Json.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        AssertNoPasswordMaterial(updated, PasswordOf(username));
        var client = await PasswordClientAsync();
        var (status, body) = await PasswordGrantAsync(client, renamed, PasswordOf(username));
        Assert.True(status == HttpStatusCode.OK, $"the renamed user keeps its password: {body}");
    }

    [Fact]
    public async Task Renaming_a_user_to_a_taken_username_is_a_409()
    {
        var taken = Unique("grace");
        await CreateAsync(taken);
        var (id, _) = await CreateAsync(Unique("heidi"));

        AssertProblem(await admin.PutAsync($"/admin/users/{id}", Profile(taken.ToUpperInvariant())), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task A_username_that_is_another_users_email_or_an_email_that_is_another_users_username_is_a_409()
    {
        // People sign in with either; one account's username must never capture another's email login.
        var owner = Unique("judy");
        var (ownerId, _) = await CreateAsync(owner);
        var ownerEmail = $"{owner}@example.test";
        var (otherId, _) = await CreateAsync(Unique("leo"));

        AssertProblem(await admin.PostAsync("/admin/users", NewUser(ownerEmail.ToUpperInvariant(), email: Unique("kim") + "@example.test")), HttpStatusCode.Conflict);
        AssertProblem(await admin.PutAsync($"/admin/users/{otherId}", Profile(ownerEmail, email: Unique("kim") + "@example.test")), HttpStatusCode.Conflict);
        var emailLikeUsername = Unique("nick") + "@example.test";
        AssertStatus(await admin.PostAsync("/admin/users", NewUser(emailLikeUsername, email: Unique("nick") + "@example.test")), HttpStatusCode.Created);
        AssertProblem(await admin.PutAsync($"/admin/users/{otherId}", Profile(Unique("leo"), email: emailLikeUsername)), HttpStatusCode.Conflict);

        // An account may use its own email as its username.
        var selfNamed = Unique("mia") + "@example.test";
        AssertStatus(await admin.PostAsync("/admin/users", NewUser(selfNamed, email: selfNamed)), HttpStatusCode.Created);
        AssertStatus(await admin.PutAsync($"/admin/users/{ownerId}", Profile(owner)), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Accounts_whose_names_clashed_before_that_was_refused_still_lock_out_and_can_be_disabled()
    {
        var victim = Unique("vera");
        var (victimId, _) = await CreateAsync(victim);
        var squatter = Unique("sam");
        var (squatterId, _) = await CreateAsync(squatter);
        // As an earlier version allowed: the squatter's username is the victim's email.
        var squatterName = $"{victim}@example.test";
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
            var row = await db.Users.SingleAsync(u => u.Id == squatterId);
            row.UserName = squatterName;
            row.NormalizedUserName = squatterName.ToUpperInvariant();
            await db.SaveChangesAsync();
        }

        for (var attempt = 0; attempt < 5; attempt++)
        {
            await new BrowserSession(factory).SignInAsync("/account/login", victim, "wrong-password-" + attempt);
        }

        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
            Assert.True(await users.IsLockedOutAsync((await users.FindByIdAsync(victimId))!), "wrong passwords were not counted");
        }

        AssertStatus(await admin.PutAsync($"/admin/users/{victimId}", Profile(victim, enabled: false)), HttpStatusCode.OK);
        AssertStatus(await admin.PutAsync($"/admin/users/{squatterId}", Profile(squatterName, email: $"{squatter}@example.test", enabled: false)), HttpStatusCode.OK);
        // Renaming into a clash is still refused.
        AssertProblem(await admin.PutAsync($"/admin/users/{squatterId}", Profile(squatterName, email: squatterName)), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Users_created_with_a_blank_email_have_none_and_do_not_clash()
    {
        foreach (var blank in new[] { "", "  ", "" })
        {
            var username = Unique("noemail");
            var created = await admin.PostAsync("/admin/users", NewUser(username, email: blank));
            AssertStatus(created, HttpStatusCode.Created);
            Assert.Equal(JsonValueKind.Null, created.Json.GetProperty("email").ValueKind);
        }
    }

    [Fact]
    public async Task Sending_a_password_in_an_update_is_a_400_keyed_by_password()
    {
        var username = Unique("ivan");
        var (id, _) = await CreateAsync(username);

        var response = await admin.PutAsync($"/admin/users/{id}", new { username, password = "new-password-123", enabled = true });

        AssertFieldError(response, "password");
    }

    [Fact]
    public async Task Disabling_a_user_makes_its_refresh_tokens_fail_and_stops_sign_in_until_re_enabled()
    {
        var username = Unique("judy");
        var (id, _) = await CreateAsync(username);
        var client = await PasswordClientAsync();
        var (_, tokens) = await PasswordGrantAsync(client, username, PasswordOf(username));
        var refreshToken = tokens.GetProperty("refresh_token").GetString()!;

        var disabled = await admin.PutAsync($"/admin/users/{id}", Profile(username, enabled: false));

        AssertStatus(disabled, HttpStatusCode.OK);
        Assert.False(disabled.Json.GetProperty("enabled").GetBoolean());
        var (refreshStatus, refreshBody) = await RefreshAsync(client, refreshToken);
        Assert.Equal(HttpStatusCode.BadRequest, refreshStatus);
        Assert.Equal("invalid_grant", refreshBody.GetProperty("error").GetString());
        var (signInStatus, _) = await PasswordGrantAsync(client, username, PasswordOf(username));
        Assert.Equal(HttpStatusCode.BadRequest, signInStatus);

        AssertStatus(await admin.PutAsync($"/admin/users/{id}", Profile(username, enabled: true)), HttpStatusCode.OK);
        var (againStatus, againBody) = await PasswordGrantAsync(client, username, PasswordOf(username));
        Assert.True(againStatus == HttpStatusCode.OK, againBody.ToString());
    }

    [Fact]
    public async Task Disabling_a_user_revokes_its_access_tokens_at_once()
    {
        var signedIn = await SignedInWithAnActiveAccessTokenAsync("dis", "pete");

        AssertStatus(await admin.PutAsync($"/admin/users/{signedIn.UserId}", Profile(signedIn.Username, enabled: false)), HttpStatusCode.OK);

        Assert.False(await signedIn.IsActiveAsync());
        using var userinfo = new HttpRequestMessage(HttpMethod.Get, "/connect/userinfo") { Headers = { Authorization = new("Bearer", signedIn.AccessToken) } };
        using var userinfoResponse = await Tokens.Http.SendAsync(userinfo);
        Assert.Equal(HttpStatusCode.Unauthorized, userinfoResponse.StatusCode);
    }

    [Fact]
    public async Task A_disabled_user_cannot_log_in_on_the_login_page()
    {
        var username = Unique("kim");
        var created = await admin.PostAsync("/admin/users", NewUser(username, enabled: false));
        AssertStatus(created, HttpStatusCode.Created);
        Assert.False(created.Json.GetProperty("enabled").GetBoolean());
        var client = await Tokens.RegisterCodeClientAsync(Unique("web"));

        var response = await new BrowserSession(factory).SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), username, PasswordOf(username));

        Assert.Null(response.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Resetting_a_password_makes_the_old_one_and_earlier_refresh_tokens_fail()
    {
        var username = Unique("leo");
        var (id, _) = await CreateAsync(username);
        var client = await PasswordClientAsync();
        var (_, tokens) = await PasswordGrantAsync(client, username, PasswordOf(username));
        const string newPassword = "a-brand-new-password";

        var reset = await admin.PostAsync($"/admin/users/{id}/password", new { password = newPassword });

        AssertStatus(reset, HttpStatusCode.NoContent);
        Assert.DoesNotContain(newPassword, reset.Text, StringComparison.Ordinal);
        var (oldStatus, _) = await PasswordGrantAsync(client, username, PasswordOf(username));
        Assert.Equal(HttpStatusCode.BadRequest, oldStatus);
        var (newStatus, newBody) = await PasswordGrantAsync(client, username, newPassword);
        Assert.True(newStatus == HttpStatusCode.OK, newBody.ToString());
        var (refreshStatus, refreshBody) = await RefreshAsync(client, tokens.GetProperty("refresh_token").GetString()!);
        Assert.Equal(HttpStatusCode.BadRequest, refreshStatus);
        Assert.Equal("invalid_grant", refreshBody.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Resetting_a_password_ends_the_users_access_tokens_at_once()
    {
        var username = Unique("lena");
        var (id, _) = await CreateAsync(username);
        var client = await PasswordClientAsync();
        var (_, issued) = await PasswordGrantAsync(client, username, PasswordOf(username));
        var accessToken = issued.GetProperty("access_token").GetString()!;
        Assert.True((await Tokens.IntrospectAsync(accessToken, client.ClientId, client.Secret)).GetProperty("active").GetBoolean());

        AssertStatus(await admin.PostAsync($"/admin/users/{id}/password", new { password = "a-reset-after-a-leak" }), HttpStatusCode.NoContent);

        Assert.False((await Tokens.IntrospectAsync(accessToken, client.ClientId, client.Secret)).GetProperty("active").GetBoolean());
    }

    [Theory]
    [InlineData("short")]
    [InlineData("")]
    [InlineData(null)]
    public async Task A_password_reset_to_a_password_the_policy_refuses_is_a_400_keyed_by_password(string? password)
    {
        var (id, _) = await CreateAsync(Unique("mia"));

        AssertFieldError(await admin.PostAsync($"/admin/users/{id}/password", new { password }), "password");
    }

    [Fact]
    public async Task A_password_over_72_bytes_is_a_400_keyed_by_password()
    {
        var username = Unique("ned");

        var response = await admin.PostAsync("/admin/users", new { username, password = new string('p', 73) });

        AssertFieldError(response, "password");
        Assert.Equal(0, (await admin.GetAsync($"/admin/users?search={username}")).Json.GetProperty("total").GetInt32());
    }

    /// <summary>A user signed in through a password client, holding an access token its resource server introspects as active.</summary>
    private async Task<SignedInUser> SignedInWithAnActiveAccessTokenAsync(string prefix, string name)
    {
        var (scope, resourceClient, resourceSecret) = await admin.ResourceServerAsync(Unique(prefix));
        var clientId = Unique(prefix + "-client");
        var secret = await Tokens.RegisterClientAsync(new { clientId, grantTypes = new[] { "password", "refresh_token" }, scopes = new[] { "openid", "offline_access", scope } });
        var username = Unique(name);
        var (userId, _) = await CreateAsync(username);
        var (_, tokens) = await PasswordGrantAsync((clientId, secret!), username, PasswordOf(username), $"openid offline_access {scope}");
        var signedIn = new SignedInUser(admin, (clientId, secret!), username, userId, tokens.GetProperty("access_token").GetString()!,
            tokens.GetProperty("refresh_token").GetString()!, resourceClient, resourceSecret);
        Assert.True(await signedIn.IsActiveAsync());
        return signedIn;
    }

    private sealed record SignedInUser(
        AdminApi Admin, (string Id, string Secret) Client, string Username, string UserId, string AccessToken, string RefreshToken,
        string ResourceClient, string ResourceSecret)
    {
        public Task<bool> IsActiveAsync() => Admin.IsActiveAsync(AccessToken, ResourceClient, ResourceSecret);
    }

    [Fact]
    public async Task Deleting_a_user_removes_it_and_revokes_its_tokens()
    {
        var signedIn = await SignedInWithAnActiveAccessTokenAsync("del", "olga");
        var (client, username, userId) = (signedIn.Client, signedIn.Username, signedIn.UserId);

        var deleted = await admin.DeleteAsync($"/admin/users/{userId}");

        AssertStatus(deleted, HttpStatusCode.NoContent);
        AssertProblem(await admin.GetAsync($"/admin/users/{userId}"), HttpStatusCode.NotFound);
        Assert.False(await signedIn.IsActiveAsync());
        var (refreshStatus, refreshBody) = await RefreshAsync(client, signedIn.RefreshToken);
        Assert.Equal(HttpStatusCode.BadRequest, refreshStatus);
        Assert.Equal("invalid_grant", refreshBody.GetProperty("error").GetString());
        var (signInStatus, _) = await PasswordGrantAsync(client, username, PasswordOf(username));
        Assert.Equal(HttpStatusCode.BadRequest, signInStatus);
    }

    [Fact]
    public async Task Every_change_to_a_user_is_audited_without_the_password()
    {
        var username = Unique("pat");
        var (id, _) = await CreateAsync(username);
        await admin.PutAsync($"/admin/users/{id}", Profile(username, email: $"{username}@moved.example", roles: ["auditor"]));
        await admin.PostAsync($"/admin/users/{id}/password", new { password = "another-password-9" });
        await admin.PostAsync($"/admin/users/{id}/logout", new { });
        await admin.DeleteAsync($"/admin/users/{id}");

        var audit = await admin.AuditAsync(id);

        Assert.Equal(["user.created", "user.updated", "user.password_reset", "user.logged_out", "user.deleted"], audit.Select(a => a.Action));
        Assert.All(audit, a => Assert.Equal(IdentityServerFactory.AdminClientId, a.Actor));
        // The email is a sign-in name: where it was pointed is part of the record.
        Assert.Contains($"{username}@moved.example", audit[1].Details, StringComparison.Ordinal);
        Assert.All(audit, a => Assert.DoesNotContain(PasswordOf(username), a.Details ?? "", StringComparison.Ordinal));
        Assert.All(audit, a => Assert.DoesNotContain("another-password-9", a.Details ?? "", StringComparison.Ordinal));
        Assert.All(audit, a => Assert.DoesNotContain("hash", a.Details ?? "", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Creating_a_user_with_a_taken_username_is_a_409_whatever_the_case()
    {
        var username = Unique("quinn");
        await CreateAsync(username);

        AssertProblem(await admin.PostAsync("/admin/users", NewUser(username)), HttpStatusCode.Conflict);
        AssertProblem(await admin.PostAsync("/admin/users", NewUser(username.ToUpperInvariant())), HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("POST")]
    public async Task An_unknown_user_is_a_404(string method)
    {
        var id = Guid.NewGuid().ToString();
        var path = method == "POST" ? $"/admin/users/{id}/password" : $"/admin/users/{id}";
        object? body = method switch
        {
            "PUT" => Profile(Unique("nobody")),
            "POST" => new { password = "some-password-123" },
            _ => null,
        };

        var response = await admin.SendAsync(new HttpMethod(method), path, body);

        var problem = AssertProblem(response, HttpStatusCode.NotFound);
        Assert.Contains(id, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("username", null)]
    [InlineData("username", "")]
    [InlineData("username", "x")]
    [InlineData("username", "has space")]
    [InlineData("username", "semi;colon")]
    [InlineData("email", "not-an-email")]
    [InlineData("email", "two@@example.test")]
    [InlineData("email", "Some Name <someone@example.test>")]
    [InlineData("email", "\"quoted\"@example.test")]
    [InlineData("email", "with space@example.test")]
    [InlineData("email", "trailing.@example.test")]
    [InlineData("email", "someone@-example.test")]
    [InlineData("password", null)]
    [InlineData("password", "short")]
    public async Task Creating_a_user_with_an_invalid_field_is_a_400_keyed_by_that_field(string field, string? value)
    {
        var username = Unique("rita");
        var body = new Dictionary<string, object?>
        {
            ["username"] = username,
            ["email"] = $"{username}@example.test",
            ["password"] = PasswordOf(username),
            [field] = value,
        };

        AssertFieldError(await admin.PostAsync("/admin/users", body), field);
    }

    [Fact]
    public async Task Creating_a_user_with_several_invalid_fields_names_them_all_in_one_answer()
    {
        var response = await admin.PostAsync("/admin/users", new { username = "", email = "not-an-email", password = "short" });

        AssertFieldError(response, "username");
        AssertFieldError(response, "email");
        AssertFieldError(response, "password");
    }

    [Fact]
    public async Task A_username_with_refused_characters_is_named_beside_the_other_invalid_fields()
    {
        var response = await admin.PostAsync("/admin/users", new { username = "has space", email = "not-an-email", password = "short" });

        AssertFieldError(response, "username");
        AssertFieldError(response, "email");
        AssertFieldError(response, "password");
    }

    [Theory]
    [InlineData("plain@example.test")]
    [InlineData("first.last+tag@sub.example.test")]
    [InlineData("zoë@exämple.test")]
    public async Task A_bare_mailbox_is_accepted_as_an_email(string email)
    {
        var username = Unique("mailbox");

        AssertStatus(await admin.PostAsync("/admin/users", NewUser(username, email: email.Replace("@", $"{username}@", StringComparison.Ordinal))), HttpStatusCode.Created);
    }

    [Fact]
    public async Task A_locked_out_user_shows_until_when_and_enabling_them_lets_them_sign_in_again()
    {
        var username = Unique("lola");
        var (id, created) = await CreateAsync(username);
        Assert.Equal(JsonValueKind.Null, created.GetProperty("lockedOutUntil").ValueKind);
        var client = await PasswordClientAsync();
        await LockOutAsync(client, username);
        Assert.Equal(HttpStatusCode.BadRequest, (await PasswordGrantAsync(client, username, PasswordOf(username))).Status);

        var locked = await admin.GetAsync($"/admin/users/{id}");
        Assert.True(locked.Json.GetProperty("lockedOutUntil").GetDateTimeOffset() > factory.Time.GetUtcNow());

        var enabled = await admin.PutAsync($"/admin/users/{id}", new { enabled = true });

        AssertStatus(enabled, HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, enabled.Json.GetProperty("lockedOutUntil").ValueKind);
        Assert.Equal(HttpStatusCode.OK, (await PasswordGrantAsync(client, username, PasswordOf(username))).Status);
    }

    [Fact]
    public async Task A_password_reset_lets_a_locked_out_user_sign_in_with_the_new_password()
    {
        var username = Unique("lars");
        var (id, _) = await CreateAsync(username);
        var client = await PasswordClientAsync();
        await LockOutAsync(client, username);

        AssertStatus(await admin.PostAsync($"/admin/users/{id}/password", new { password = "brand-new-password-1" }), HttpStatusCode.NoContent);

        Assert.Equal(HttpStatusCode.OK, (await PasswordGrantAsync(client, username, "brand-new-password-1")).Status);
        Assert.Equal(JsonValueKind.Null, (await admin.GetAsync($"/admin/users/{id}")).Json.GetProperty("lockedOutUntil").ValueKind);
    }

    private async Task LockOutAsync((string ClientId, string Secret) client, string username)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await PasswordGrantAsync(client, username, "wrong-password-" + attempt)).Status);
        }
    }

    [Fact]
    public async Task A_username_with_letters_outside_a_to_z_is_refused_with_a_message_that_says_which_are_allowed()
    {
        var username = "józef" + Unique("n");

        var messages = AssertFieldError(await admin.PostAsync("/admin/users", new { username, email = "jozef@example.test", password = PasswordOf(username) }), "username");

        Assert.Contains(messages, m => m.Contains("A-Z", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Correcting_the_case_of_a_users_email_keeps_the_new_spelling()
    {
        var username = Unique("casey");
        var (id, _) = await CreateAsync(username);

        var updated = await admin.PutAsync($"/admin/users/{id}", Profile(username, email: $"{username.ToUpperInvariant()}@Example.Test"));

        AssertStatus(updated, HttpStatusCode.OK);
        Assert.Equal($"{username.ToUpperInvariant()}@Example.Test", updated.Json.GetProperty("email").GetString());
        Assert.Equal($"{username.ToUpperInvariant()}@Example.Test", (await admin.GetAsync($"/admin/users/{id}")).Json.GetProperty("email").GetString());
    }

    [Fact]
    public async Task Updating_a_user_with_an_invalid_email_is_a_400_keyed_by_email_and_changes_nothing()
    {
        var username = Unique("sam");
        var (id, _) = await CreateAsync(username);

        AssertFieldError(await admin.PutAsync($"/admin/users/{id}", Profile(username, email: "nope")), "email");
        Assert.Equal($"{username}@example.test", (await admin.GetAsync($"/admin/users/{id}")).Json.GetProperty("email").GetString());
    }

    [Theory]
    [InlineData("POST", "{\"username\": ")]
    [InlineData("POST", "{\"username\": \"x\", \"enabled\": \"maybe\"}")]
    [InlineData("POST", "{\"username\": \"x\", \"roles\": \"admin\"}")]
    [InlineData("PUT", "{{{")]
    [InlineData("PASSWORD", "{\"password\": 12")]
    public async Task A_malformed_json_body_is_a_400_problem_not_a_500(string kind, string json)
    {
        var (id, _) = await CreateAsync(Unique("tom"));
        var (method, path) = kind switch
        {
            "POST" => (HttpMethod.Post, "/admin/users"),
            "PUT" => (HttpMethod.Put, $"/admin/users/{id}"),
            _ => (HttpMethod.Post, $"/admin/users/{id}/password"),
        };

        AssertProblem(await admin.SendRawAsync(method, path, json), HttpStatusCode.BadRequest);
    }
}
