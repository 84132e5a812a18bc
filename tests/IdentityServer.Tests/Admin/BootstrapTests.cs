using System.Net;
using IdentityServer.Admin;
using IdentityServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenIddict.Abstractions;
using static IdentityServer.Tests.Admin.AdminApi;

namespace IdentityServer.Tests.Admin;

/// <summary>A second server started on the database of a running one, as after a restart.</summary>
public sealed class SecondHost(IdentityServerFactory first) : IdentityServerFactory(first);

public sealed class BootstrapTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private const string ChangedSecret = "a-changed-admin-client-secret-987654";

    private readonly AdminApi admin = new(factory);

    private TokenClient Tokens => admin.Tokens;

    private Task RunBootstrapAgainAsync() =>
        factory.Services.GetServices<IHostedService>().OfType<Bootstrap>().Single().StartAsync(CancellationToken.None);

    private Task<(HttpStatusCode Status, System.Text.Json.JsonElement Body)> AdminClientTokenAsync(TokenClient tokens, string secret) =>
        tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin" },
            IdentityServerFactory.AdminClientId, secret);

    /// <summary>What the bootstrap is responsible for, counted through the admin API.</summary>
    private async Task<(int Clients, int AdminScopes, int AdminUsers, string[] Roles)> BootstrappedStateAsync(AdminApi api)
    {
        var clients = await api.GetAsync("/admin/clients");
        var scopes = await api.GetAsync("/admin/scopes");
        var users = await api.GetAsync("/admin/users?search=" + IdentityServerFactory.AdminUsername + "&pageSize=100");
        var adminUsers = users.Json.GetProperty("items").EnumerateArray()
            .Where(u => u.GetProperty("username").GetString() == IdentityServerFactory.AdminUsername)
            .ToList();
        return (
            clients.Json.EnumerateArray().Count(c => c.GetProperty("clientId").GetString() == IdentityServerFactory.AdminClientId),
            scopes.Json.EnumerateArray().Count(s => s.GetProperty("name").GetString() == "admin"),
            adminUsers.Count,
            adminUsers.Count == 1 ? [.. adminUsers[0].GetProperty("roles").EnumerateArray().Select(r => r.GetString()!)] : []);
    }

    [Fact]
    public async Task A_bootstrap_admin_secret_shorter_than_the_admin_api_allows_works_and_is_warned_about_in_the_log()
    {
        await using var server = new IdentityServer.Tests.Hosting.CapturedLogsFactory();
        server.With("Bootstrap:AdminClientSecret", "short-secret");

        var (status, _) = await AdminClientTokenAsync(new TokenClient(server), "short-secret");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(server.Logs.Lines, line => line.StartsWith("Warning", StringComparison.Ordinal)
            && line.Contains("Bootstrap:AdminClientSecret is shorter than the 16 characters", StringComparison.Ordinal));
    }

    [Fact]
    public async Task On_start_the_admin_client_the_admin_scope_and_the_admin_user_exist()
    {
        var client = await admin.GetAsync($"/admin/clients/{IdentityServerFactory.AdminClientId}");
        var scope = await admin.GetAsync("/admin/scopes/admin");
        var (_, _, adminUsers, roles) = await BootstrappedStateAsync(admin);

        AssertStatus(client, HttpStatusCode.OK);
        Assert.Equal("confidential", client.Json.GetProperty("clientType").GetString());
        Assert.Contains("client_credentials", client.Json.GetProperty("grantTypes").EnumerateArray().Select(g => g.GetString()));
        Assert.Contains("admin", client.Json.GetProperty("scopes").EnumerateArray().Select(g => g.GetString()));
        AssertStatus(scope, HttpStatusCode.OK);
        Assert.Contains("identityserver-admin", scope.Json.GetProperty("resources").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(1, adminUsers);
        Assert.Contains("admin", roles);
    }

    [Fact]
    public async Task The_admin_client_introspects_and_revokes_its_own_token_like_any_confidential_client()
    {
        var (status, body) = await AdminClientTokenAsync(Tokens, IdentityServerFactory.AdminClientSecret);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var token = body.Token("access_token");

        var introspection = await Tokens.IntrospectAsync(token, IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret);
        using var revoke = new HttpRequestMessage(HttpMethod.Post, "/connect/revoke")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token }),
        };
        revoke.Headers.Authorization = TokenClient.Basic(IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret);
        using var revoked = await Tokens.Http.SendAsync(revoke);

        Assert.True(introspection.GetProperty("active").GetBoolean(), introspection.ToString());
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        AssertStatus(await admin.GetAsync("/admin/clients", token), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Running_the_bootstrap_again_changes_nothing_and_the_secret_still_works()
    {
        var before = await BootstrappedStateAsync(admin);
        var clientsBefore = (await admin.GetAsync("/admin/clients")).Json.GetArrayLength();

        await RunBootstrapAgainAsync();
        await RunBootstrapAgainAsync();

        var after = await BootstrappedStateAsync(admin);
        Assert.Equal((1, 1, 1), (after.Clients, after.AdminScopes, after.AdminUsers));
        Assert.Equal(before.Roles, after.Roles);
        Assert.Equal(clientsBefore, (await admin.GetAsync("/admin/clients")).Json.GetArrayLength());
        var (status, body) = await AdminClientTokenAsync(Tokens, IdentityServerFactory.AdminClientSecret);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
    }

    [Fact]
    public async Task A_second_server_on_the_same_database_duplicates_nothing_and_keeps_the_data()
    {
        var username = Unique("survivor");
        var userId = await Tokens.RegisterUserAsync(username, "password-of-" + username);

        await using var second = new SecondHost(factory);
        var secondAdmin = new AdminApi(second);
        var state = await BootstrappedStateAsync(secondAdmin);

        Assert.Equal((1, 1, 1), (state.Clients, state.AdminScopes, state.AdminUsers));
        Assert.Contains("admin", state.Roles);
        AssertStatus(await secondAdmin.GetAsync($"/admin/users/{userId}"), HttpStatusCode.OK);
        var (status, body) = await AdminClientTokenAsync(secondAdmin.Tokens, IdentityServerFactory.AdminClientSecret);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var firstView = await BootstrappedStateAsync(admin);
        Assert.Equal((1, 1, 1), (firstView.Clients, firstView.AdminScopes, firstView.AdminUsers));
    }

    [Fact]
    public async Task A_server_started_with_another_admin_secret_makes_that_secret_the_only_one_that_works()
    {
        await using (var second = new SecondHost(factory))
        {
            second.With("Bootstrap:AdminClientSecret", ChangedSecret);
            var secondTokens = new TokenClient(second);

            var (newStatus, newBody) = await AdminClientTokenAsync(secondTokens, ChangedSecret);
            var (oldStatus, _) = await AdminClientTokenAsync(secondTokens, IdentityServerFactory.AdminClientSecret);

            Assert.True(newStatus == HttpStatusCode.OK, newBody.ToString());
            Assert.Equal(HttpStatusCode.Unauthorized, oldStatus);
        }

        // Restarting with the original configuration puts the original secret back.
        await RunBootstrapAgainAsync();

        var (restoredStatus, restoredBody) = await AdminClientTokenAsync(Tokens, IdentityServerFactory.AdminClientSecret);
        var (changedStatus, _) = await AdminClientTokenAsync(Tokens, ChangedSecret);
        Assert.True(restoredStatus == HttpStatusCode.OK, restoredBody.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, changedStatus);
    }

    [Fact]
    public async Task The_bootstrap_recreates_the_admin_scope_when_it_is_missing()
    {
        // The admin API refuses to delete it; a database edited by hand can still lose it.
        await using (var services = factory.Services.CreateAsyncScope())
        {
            var scopes = services.ServiceProvider.GetRequiredService<IOpenIddictScopeManager>();
            await scopes.DeleteAsync((await scopes.FindByNameAsync("admin"))!);
        }

        var (refusedStatus, _) = await AdminClientTokenAsync(Tokens, IdentityServerFactory.AdminClientSecret);
        Assert.Equal(HttpStatusCode.BadRequest, refusedStatus);

        await RunBootstrapAgainAsync();

        var scope = await admin.GetAsync("/admin/scopes/admin");
        AssertStatus(scope, HttpStatusCode.OK);
        Assert.Contains("identityserver-admin", scope.Json.GetProperty("resources").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(1, (await BootstrappedStateAsync(admin)).AdminScopes);
    }

    [Fact]
    public async Task The_bootstrap_gives_the_admin_client_back_its_grant_and_scope_when_an_admin_removed_them()
    {
        var crippled = await admin.PutAsync($"/admin/clients/{IdentityServerFactory.AdminClientId}",
            new { clientType = "confidential", grantTypes = new[] { "refresh_token" }, scopes = Array.Empty<string>() });
        AssertStatus(crippled, HttpStatusCode.OK);
        var (refusedStatus, _) = await AdminClientTokenAsync(Tokens, IdentityServerFactory.AdminClientSecret);
        Assert.Equal(HttpStatusCode.BadRequest, refusedStatus);

        await RunBootstrapAgainAsync();

        var (status, body) = await AdminClientTokenAsync(Tokens, IdentityServerFactory.AdminClientSecret);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
    }

    [Fact]
    public async Task The_bootstrap_makes_the_admin_client_confidential_again_with_its_secret_when_an_admin_made_it_public()
    {
        var madePublic = await admin.PutAsync($"/admin/clients/{IdentityServerFactory.AdminClientId}",
            new { clientType = "public", grantTypes = new[] { "authorization_code" }, redirectUris = new[] { "https://admin.example/cb" }, scopes = new[] { "openid" } });
        AssertStatus(madePublic, HttpStatusCode.OK);

        await RunBootstrapAgainAsync();

        var (status, body) = await AdminClientTokenAsync(Tokens, IdentityServerFactory.AdminClientSecret);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
    }

    [Fact]
    public async Task The_bootstrap_gives_the_admin_user_back_its_role_and_enables_it()
    {
        var users = await admin.GetAsync("/admin/users?search=" + IdentityServerFactory.AdminUsername);
        var root = users.Json.GetProperty("items").EnumerateArray().Single(u => u.GetProperty("username").GetString() == IdentityServerFactory.AdminUsername);
        var id = root.GetProperty("id").GetString()!;
        AssertStatus(await admin.PutAsync($"/admin/users/{id}", new { username = IdentityServerFactory.AdminUsername, roles = Array.Empty<string>(), enabled = false }), HttpStatusCode.OK);

        await RunBootstrapAgainAsync();

        var fetched = await admin.GetAsync($"/admin/users/{id}");
        Assert.True(fetched.Json.GetProperty("enabled").GetBoolean());
        Assert.Equal(["admin"], fetched.Json.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(1, (await BootstrappedStateAsync(admin)).AdminUsers);
    }

    [Fact]
    public async Task A_user_who_registered_the_configured_admin_name_first_is_not_made_admin_at_start()
    {
        var taken = Unique("ops");
        var squatterId = await Tokens.RegisterUserAsync(taken, "the-squatters-own-password");

        await using (var second = new SecondHost(factory))
        {
            second.With("Bootstrap:AdminUsername", taken).With("Bootstrap:AdminPassword", "the-operators-configured-password");
            AssertStatus(await new AdminApi(second).GetAsync($"/admin/users/{squatterId}"), HttpStatusCode.OK);   // started
        }

        var squatter = await admin.GetAsync($"/admin/users/{squatterId}");
        Assert.Empty(squatter.Json.GetProperty("roles").EnumerateArray());
    }

    [Fact]
    public async Task The_configured_admin_user_disabled_and_given_another_password_stays_disabled_at_start()
    {
        var username = Unique("first-admin");
        var id = await Tokens.RegisterUserAsync(username, "configured-password-1", null, "admin");
        AssertStatus(await admin.PutAsync($"/admin/users/{id}", new { enabled = false }), HttpStatusCode.OK);
        AssertStatus(await admin.PostAsync($"/admin/users/{id}/password", new { password = "changed-by-the-responder" }), HttpStatusCode.NoContent);

        await using (var second = new SecondHost(factory))
        {
            second.With("Bootstrap:AdminUsername", username).With("Bootstrap:AdminPassword", "configured-password-1");
            AssertStatus(await new AdminApi(second).GetAsync($"/admin/users/{id}"), HttpStatusCode.OK);
        }

        Assert.False((await admin.GetAsync($"/admin/users/{id}")).Json.GetProperty("enabled").GetBoolean());
    }

    [Theory]
    [InlineData("Bootstrap:AdminClientSecret")]
    [InlineData("Bootstrap:AdminPassword")]
    public async Task Half_a_bootstrap_configuration_stops_the_server_from_starting(string missing)
    {
        await using var misconfigured = new IdentityServerFactory().With(missing, "");

        var error = Assert.ThrowsAny<Exception>(() => misconfigured.CreateClient());

        Assert.Contains(missing.Split(':')[1], error.ToString(), StringComparison.Ordinal);
    }
}

/// <summary>A server whose configuration names no bootstrap client or user.</summary>
public sealed class UnbootstrappedIdentityServerFactory : IdentityServerFactory
{
    public UnbootstrappedIdentityServerFactory()
    {
        With("Bootstrap:AdminClientId", "");
        With("Bootstrap:AdminClientSecret", "");
        With("Bootstrap:AdminUsername", "");
        With("Bootstrap:AdminPassword", "");
    }
}

public sealed class UnconfiguredBootstrapTests(UnbootstrappedIdentityServerFactory factory) : IClassFixture<UnbootstrappedIdentityServerFactory>
{
    [Fact]
    public async Task Without_bootstrap_settings_there_is_no_admin_client_or_user_but_the_admin_scope_exists()
    {
        var tokens = new TokenClient(factory);

        var (status, body) = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin" },
            IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_client", body.GetProperty("error").GetString());
        await using var scope = factory.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<IdentityServer.Users.ApplicationUser>>();
        Assert.Null(await users.FindByNameAsync(IdentityServerFactory.AdminUsername));
        var scopes = scope.ServiceProvider.GetRequiredService<OpenIddict.Abstractions.IOpenIddictScopeManager>();
        Assert.NotNull(await scopes.FindByNameAsync("admin"));
    }
}
