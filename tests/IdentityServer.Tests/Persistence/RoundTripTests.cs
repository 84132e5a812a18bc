using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Persistence;

/// <summary>
/// How many database commands the hot grants cost once the client and its scopes are in memory: each command is CPU
/// and latency on every request, and a count that grows with the data would be an N+1.
/// </summary>
public sealed class RoundTripTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task A_refresh_reads_the_token_and_the_user_and_writes_the_redemption_and_two_new_tokens_in_one_transaction()
    {
        // With an API scope, as real clients have: the refresh checks it against the client and reads its audience.
        await tokens.RegisterScopeAsync("round-trips-refresh-api", "round-trips-refresh-resource");
        var client = await tokens.RegisterCodeClientAsync("round-trips-refresh", scopes: "openid profile email offline_access round-trips-refresh-api");
        await tokens.RegisterUserAsync("rtrip", "rtrip-password-1", null, "reader", "writer");
        var first = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rtrip", "rtrip-password-1",
            "openid profile email offline_access round-trips-refresh-api");
        var warm = await tokens.RefreshAsync(client, first.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.OK, warm.Status);

        using var counter = new DatabaseCommandCounter(factory);
        var commands = await counter.RecordAsync(async () =>
            Assert.Equal(HttpStatusCode.OK, (await tokens.RefreshAsync(client, warm.Body.Token("refresh_token"))).Status));

        // The refresh token with its client and authorization (one joined query), the user with its roles (one query);
        // marking the old token redeemed; the new access and refresh tokens (the id token is not stored).
        // (PostgreSQL sends the three writes as one batched command.)
        var statements = commands
            .SelectMany(command => command.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .ToList();
        var shape = statements.Select(statement => statement.Split(' ', 2)[0]).ToList();
        Assert.True(
            shape.SequenceEqual(["SELECT", "SELECT", "UPDATE", "INSERT", "INSERT"]),
            $"{commands.Count} commands:\n{string.Join("\n----\n", commands)}");
        // ...saved together: one transaction, one commit.
        Assert.Equal(1, counter.Saves);
        // The redemption sets what changed (status, redemption date, concurrency token), not every column.
        var redemption = statements.Single(statement => statement.StartsWith("UPDATE", StringComparison.Ordinal));
        Assert.DoesNotContain("Payload", redemption, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_login_runs_the_same_database_commands_whatever_the_number_of_roles_the_user_has()
    {
        var client = await tokens.RegisterCodeClientAsync("round-trips-login");
        await tokens.RegisterUserAsync("rtrip-one-role", "rtrip-password-1", null, "reader");
        await tokens.RegisterUserAsync("rtrip-four-roles", "rtrip-password-1", null, "reader", "writer", "auditor", "editor");
        await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rtrip-one-role", "rtrip-password-1");

        async Task<IReadOnlyList<string>> LogInAsync(string username)
        {
            using var counter = new DatabaseCommandCounter(factory);
            return await counter.RecordAsync(async () =>
                await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, "rtrip-password-1"));
        }

        var oneRole = await LogInAsync("rtrip-one-role");
        var fourRoles = await LogInAsync("rtrip-four-roles");

        // The roles are read with one query wherever they are needed, never one query per role.
        Assert.True(oneRole.Count == fourRoles.Count,
            $"{oneRole.Count} commands with one role, {fourRoles.Count} with four:\n{string.Join("\n----\n", fourRoles)}");
        Assert.DoesNotContain(fourRoles, command => command.Contains("AspNetRoleClaims", StringComparison.Ordinal));
        // openid, profile, email and offline_access are never stored scopes: nothing looks them up.
        Assert.DoesNotContain(fourRoles, command => command.Contains("OpenIddictScopes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_credentials_request_of_a_known_client_needs_no_database_command()
    {
        await tokens.RegisterScopeAsync("round-trips-api", "round-trips-resource");
        var secret = await tokens.RegisterClientAsync(new { clientId = "round-trips-worker", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = new[] { "round-trips-api" } });
        using var counter = new DatabaseCommandCounter(factory);

        // The first request reads the client and the scope (and shows the counter sees this server's commands)...
        var cold = await counter.RecordAsync(() => tokens.ClientCredentialsTokenAsync("round-trips-worker", secret!, "round-trips-api"));
        Assert.NotEmpty(cold);

        // ...the next finds both in memory and writes no token row.
        var warm = await counter.RecordAsync(() => tokens.ClientCredentialsTokenAsync("round-trips-worker", secret!, "round-trips-api"));
        Assert.True(warm.Count == 0, string.Join("\n----\n", warm));
    }

    [Fact]
    public async Task A_discovery_request_needs_no_database_command_once_the_scopes_are_in_memory()
    {
        await tokens.RegisterScopeAsync("round-trips-discovered", "round-trips-discovered-resource");
        using var counter = new DatabaseCommandCounter(factory);

        var cold = await counter.RecordAsync(async () => (await tokens.Http.GetAsync("/.well-known/openid-configuration")).Dispose());
        Assert.NotEmpty(cold);

        var warm = await counter.RecordAsync(async () => (await tokens.Http.GetAsync("/.well-known/openid-configuration")).Dispose());
        Assert.True(warm.Count == 0, string.Join("\n----\n", warm));
    }

    [Fact]
    public async Task A_userinfo_call_reads_the_token_the_user_and_its_roles_and_writes_nothing()
    {
        var client = await tokens.RegisterCodeClientAsync("round-trips-userinfo", scopes: "openid profile roles offline_access");
        await tokens.RegisterUserAsync("rtinfo", "rtinfo-password-1", null, "reader");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rtinfo", "rtinfo-password-1", "openid profile roles");
        using var counter = new DatabaseCommandCounter(factory);

        var commands = await counter.RecordAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/connect/userinfo");
            request.Headers.Authorization = new("Bearer", body.Token("access_token"));
            using var response = await tokens.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("reader", (await TokenClient.ReadJsonAsync(response)).GetProperty("role").GetString());
        });

        // The access token's entry (with its authorization), the user, its roles (asked for with the roles scope).
        // (PostgreSQL sends the three writes as one batched command.)
        var statements = commands
            .SelectMany(command => command.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .ToList();
        var shape = statements.Select(statement => statement.Split(' ', 2)[0]).ToList();
        Assert.True(shape.SequenceEqual(["SELECT", "SELECT", "SELECT"]), $"{commands.Count} commands:\n{string.Join("\n----\n", commands)}");
    }
}
