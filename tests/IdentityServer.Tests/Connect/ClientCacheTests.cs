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
}
