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

/// <summary>The database stops answering after discovery was served once, and the scope list has expired from memory.</summary>
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

    public sealed class Switch
    {
        public volatile bool Failing;
        public int Failures;
    }

    public sealed class OutageFactory : IdentityServerFactory
    {
        public Switch ScopeListing { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services =>
                services.AddScoped<IOpenIddictScopeStore<OpenIddictEntityFrameworkCoreScope>>(provider => new UnreachableScopeStore(
                    provider.GetRequiredService<IMemoryCache>(), provider.GetRequiredService<IOpenIddictEntityFrameworkCoreContext>(),
                    provider.GetRequiredService<IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions>>(), ScopeListing)));
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
}
