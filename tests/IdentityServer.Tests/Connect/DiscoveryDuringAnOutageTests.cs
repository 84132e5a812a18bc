using System.Net;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore;
using OpenIddict.EntityFrameworkCore.Models;

namespace IdentityServer.Tests.Connect;

/// <summary>The database stops answering: after discovery was served once (its scope list expired from memory), or
/// under a token request.</summary>
public sealed class DiscoveryDuringAnOutageTests(DiscoveryDuringAnOutageTests.OutageFactory factory) : IClassFixture<DiscoveryDuringAnOutageTests.OutageFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Discovery_goes_on_with_the_scopes_last_read_so_a_starting_api_can_still_validate_tokens()
    {
        await tokens.RegisterScopeAsync("outage-api", "outage-resource");
        using var before = await tokens.Http.GetAsync("/.well-known/openid-configuration");
        Assert.Contains("outage-api", await before.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        factory.Time.Advance(TimeSpan.FromMinutes(5));
        factory.ScopeListing.Failing = true;
        try
        {
            using var during = await tokens.Http.GetAsync("/.well-known/openid-configuration");

            Assert.Equal(HttpStatusCode.OK, during.StatusCode);
            var discovery = await TokenClient.ReadJsonAsync(during);
            Assert.Contains("outage-api", discovery.GetProperty("scopes_supported").EnumerateArray().Select(s => s.GetString()));
            Assert.True(factory.ScopeListing.Failures > 0);
        }
        finally
        {
            factory.ScopeListing.Failing = false;
        }
    }

    [Fact]
    public async Task Discovery_goes_on_during_an_outage_right_after_a_scope_changed_through_this_instance()
    {
        await tokens.RegisterScopeAsync("outage-listed-api", "outage-listed-resource");
        using var before = await tokens.Http.GetAsync("/.well-known/openid-configuration");
        Assert.Contains("outage-listed-api", await before.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await tokens.RegisterScopeAsync("outage-new-api", "outage-new-resource");

        factory.ScopeListing.Failing = true;
        try
        {
            using var during = await tokens.Http.GetAsync("/.well-known/openid-configuration");

            // The list last read, not the built-in scopes alone.
            Assert.Equal(HttpStatusCode.OK, during.StatusCode);
            var discovery = await TokenClient.ReadJsonAsync(during);
            Assert.Contains("outage-listed-api", discovery.GetProperty("scopes_supported").EnumerateArray().Select(s => s.GetString()));
        }
        finally
        {
            factory.ScopeListing.Failing = false;
        }
    }

    [Fact]
    public async Task An_instance_that_never_read_the_scopes_serves_discovery_with_the_built_in_ones_during_an_outage()
    {
        await using var fresh = new OutageFactory();
        fresh.ScopeListing.Failing = true;

        using var during = await new TokenClient(fresh).Http.GetAsync("/.well-known/openid-configuration");

        Assert.Equal(HttpStatusCode.OK, during.StatusCode);
        var scopes = (await TokenClient.ReadJsonAsync(during)).GetProperty("scopes_supported").EnumerateArray().Select(s => s.GetString()).ToList();
        Assert.Contains("openid", scopes);
        Assert.True(fresh.ScopeListing.Failures > 0);
    }

    [Fact]
    public async Task A_token_request_the_database_fails_under_answers_500_with_an_oauth_error_a_client_library_reads()
    {
        factory.ClientLookups.Failing = true;
        try
        {
            var (status, body) = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, "outage-client", "outage-client-secret-0123456789");

            Assert.Equal(HttpStatusCode.InternalServerError, status);
            Assert.Equal("server_error", body.Error());
            Assert.Equal(500, body.GetProperty("status").GetInt32());
            Assert.True(factory.ClientLookups.Failures > 0);
        }
        finally
        {
            factory.ClientLookups.Failing = false;
        }
    }

    public sealed class Switch
    {
        public volatile bool Failing;
        public int Failures;
    }

    public sealed class OutageFactory : IdentityServerFactory
    {
        public Switch ScopeListing { get; } = new();

        public Switch ClientLookups { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services =>
                services.AddScoped<IOpenIddictScopeStore<OpenIddictEntityFrameworkCoreScope>>(provider => new UnreachableScopeStore(
                    provider.GetRequiredService<IMemoryCache>(), provider.GetRequiredService<IOpenIddictEntityFrameworkCoreContext>(),
                    provider.GetRequiredService<IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions>>(), ScopeListing)));
            builder.ConfigureTestServices(services =>
                services.AddScoped<IOpenIddictApplicationStore<OpenIddictEntityFrameworkCoreApplication>>(provider => new UnreachableApplicationStore(
                    provider.GetRequiredService<IMemoryCache>(), provider.GetRequiredService<IOpenIddictEntityFrameworkCoreContext>(),
                    provider.GetRequiredService<IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions>>(), ClientLookups)));
        }
    }

    private sealed class UnreachableScopeStore(
        IMemoryCache cache, IOpenIddictEntityFrameworkCoreContext context, IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions> options, Switch listing)
        : OpenIddictEntityFrameworkCoreScopeStore(cache, context, options)
    {
        public override IAsyncEnumerable<TResult> ListAsync<TState, TResult>(
            Func<IQueryable<OpenIddictEntityFrameworkCoreScope>, TState, IQueryable<TResult>> query, TState state, CancellationToken cancellationToken)
        {
            if (listing.Failing)
            {
                Interlocked.Increment(ref listing.Failures);
                throw new InvalidOperationException("The database is unreachable.");
            }

            return base.ListAsync(query, state, cancellationToken);
        }
    }

    private sealed class UnreachableApplicationStore(
        IMemoryCache cache, IOpenIddictEntityFrameworkCoreContext context, IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions> options, Switch lookups)
        : OpenIddictEntityFrameworkCoreApplicationStore(cache, context, options)
    {
        // The server reads clients by id through this query.
        public override ValueTask<TResult?> GetAsync<TState, TResult>(
            Func<IQueryable<OpenIddictEntityFrameworkCoreApplication>, TState, IQueryable<TResult>> query, TState state, CancellationToken cancellationToken)
            where TResult : default
        {
            if (lookups.Failing)
            {
                Interlocked.Increment(ref lookups.Failures);
                throw new InvalidOperationException("The database is unreachable.");
            }

            return base.GetAsync(query, state, cancellationToken);
        }
    }
}
