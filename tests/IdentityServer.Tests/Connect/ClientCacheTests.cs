using System.Net;
using IdentityServer.Connect;
using IdentityServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.Abstractions;

namespace IdentityServer.Tests.Connect;

/// <summary>Clients are kept in memory between requests; what an admin changes still applies to the next request.</summary>
public sealed class ClientCacheTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task A_secret_rotated_while_a_request_still_holds_the_old_client_is_not_kept_in_memory()
    {
        var oldSecret = await tokens.RegisterClientAsync(new { clientId = "cache-race-worker", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });

        // A request in flight: OpenIddict's per-request cache and EF Core's change tracker hold the client as it was.
        await using var inFlight = factory.Services.CreateAsyncScope();
        var applications = inFlight.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        Assert.NotNull(await applications.FindStoredByClientIdAsync("cache-race-worker", CancellationToken.None));

        // Meanwhile an admin rotates the secret, which empties the in-memory copy...
        var (status, rotated) = await tokens.AdminAsync(HttpMethod.Post, "/admin/clients/cache-race-worker/secret");
        Assert.Equal(HttpStatusCode.OK, status);
        var newSecret = rotated.GetProperty("clientSecret").GetString()!;

        // ...and the request in flight reads the client again: what it puts in memory must be the rotated client.
        Assert.NotNull(await applications.FindByClientIdAsync("cache-race-worker"));

        var (oldStatus, _) = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, "cache-race-worker", oldSecret);
        Assert.Equal(HttpStatusCode.Unauthorized, oldStatus);
        Assert.False(string.IsNullOrEmpty(await tokens.ClientCredentialsTokenAsync("cache-race-worker", newSecret, "")));
    }

    [Fact]
    public async Task A_secret_rotated_through_another_instance_works_here_at_once_and_the_old_one_stops()
    {
        var oldSecret = await tokens.RegisterClientAsync(new { clientId = "rotated-elsewhere", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });
        // This instance now holds the client in memory.
        Assert.False(string.IsNullOrEmpty(await tokens.ClientCredentialsTokenAsync("rotated-elsewhere", oldSecret!, "")));

        await using var other = new IdentityServer.Tests.Admin.SecondHost(factory);
        var (status, rotated) = await new TokenClient(other).AdminAsync(HttpMethod.Post, "/admin/clients/rotated-elsewhere/secret");
        Assert.Equal(HttpStatusCode.OK, status);
        var newSecret = rotated.GetProperty("clientSecret").GetString()!;

        // Within the cache duration: a secret the memory copy refuses is checked against the stored client once.
        Assert.False(string.IsNullOrEmpty(await tokens.ClientCredentialsTokenAsync("rotated-elsewhere", newSecret, "")));
        var (oldStatus, _) = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, "rotated-elsewhere", oldSecret);
        Assert.Equal(HttpStatusCode.Unauthorized, oldStatus);
    }

    [Fact]
    public async Task A_client_deleted_through_another_instance_gets_no_more_tokens_here_after_the_next_poll()
    {
        var secret = await tokens.RegisterClientAsync(new { clientId = "deleted-elsewhere", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });
        Assert.False(string.IsNullOrEmpty(await tokens.ClientCredentialsTokenAsync("deleted-elsewhere", secret!, "")));
        await PollAsync();

        await using var other = new IdentityServer.Tests.Admin.SecondHost(factory);
        Assert.Equal(HttpStatusCode.NoContent, (await new TokenClient(other).AdminAsync(HttpMethod.Delete, "/admin/clients/deleted-elsewhere")).Status);
        await PollAsync();
        await PollAsync();

        var (status, _) = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, "deleted-elsewhere", secret);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task An_old_secret_rotated_through_another_instance_stops_here_after_the_next_poll()
    {
        var oldSecret = await tokens.RegisterClientAsync(new { clientId = "rotated-elsewhere-old", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });
        Assert.False(string.IsNullOrEmpty(await tokens.ClientCredentialsTokenAsync("rotated-elsewhere-old", oldSecret!, "")));
        await PollAsync();

        await using var other = new IdentityServer.Tests.Admin.SecondHost(factory);
        Assert.Equal(HttpStatusCode.OK, (await new TokenClient(other).AdminAsync(HttpMethod.Post, "/admin/clients/rotated-elsewhere-old/secret")).Status);
        // Before the poll this instance may still know the client as it was (for at most a second)...
        await PollAsync();
        await PollAsync();

        // ...after it, the old secret is refused here too, without the new one having been seen here first.
        var (status, _) = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, "rotated-elsewhere-old", oldSecret);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task A_change_counts_up_the_version_after_it_is_saved_or_first_in_its_transaction()
    {
        await tokens.RegisterScopeAsync("version-order-api", "version-order-resource");
        await tokens.RegisterClientAsync(new { clientId = "version-order-app", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = new[] { "version-order-api" } });
        using var counter = new DatabaseCommandCounter(factory);

        // Alone: the version after the client's row, so that no instance re-reads before the change is there.
        var rotation = (await counter.RecordAsync(async () =>
            Assert.Equal(HttpStatusCode.OK, (await tokens.AdminAsync(HttpMethod.Post, "/admin/clients/version-order-app/secret")).Status)))
            .Where(IsWrite).ToList();
        Assert.Contains("OpenIddictApplications", rotation[0], StringComparison.Ordinal);
        Assert.Contains("RegistrationVersion", rotation[^1], StringComparison.Ordinal);

        // In a transaction (a scope's delete edits its clients): the version first, so that every such transaction
        // locks the rows in the same order.
        var deletion = (await counter.RecordAsync(async () =>
            Assert.Equal(HttpStatusCode.NoContent, (await tokens.AdminAsync(HttpMethod.Delete, "/admin/scopes/version-order-api")).Status)))
            .Where(IsWrite).ToList();
        Assert.Contains("RegistrationVersion", deletion[0], StringComparison.Ordinal);
        // Once for the whole transaction, not once more for each client it edits.
        Assert.Single(deletion, command => command.Contains("RegistrationVersion", StringComparison.Ordinal));
        Assert.Contains(deletion, command => command.Contains("OpenIddictApplications", StringComparison.Ordinal));
    }

    // Writes to the registrations and their version (the admin token's own row is left out).
    private static bool IsWrite(string command) =>
        command.TrimStart().Split(' ', 2)[0] is "UPDATE" or "INSERT" or "DELETE"
        && (command.Contains("OpenIddictApplications", StringComparison.Ordinal) || command.Contains("OpenIddictScopes", StringComparison.Ordinal)
            || command.Contains("RegistrationVersion", StringComparison.Ordinal));

    /// <summary>
    /// Moves the clock by one poll interval and waits for that poll. Called twice after a change, so that at least one
    /// poll began after it (one may have been under way already).
    /// </summary>
    private async Task PollAsync()
    {
        var polled = factory.Services.GetRequiredService<RegistrationChanges>().NextPollAsync();
        factory.Time.Advance(RegistrationChanges.PollInterval);
        await polled.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
