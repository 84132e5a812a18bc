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

namespace IdentityServer.Tests.Admin;

/// <summary>
/// Two admins creating the same client or scope at once: both pass the "already exists" check before either writes,
/// forced here by holding each write until the other has arrived. The loser gets the 409 the check would have given.
/// </summary>
public sealed class DuplicateRaceTests(DuplicateRaceTests.RaceFactory factory) : IClassFixture<DuplicateRaceTests.RaceFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Of_two_identical_client_registrations_at_once_one_is_created_and_the_other_is_a_409()
    {
        var admin = await tokens.AdminTokenAsync();
        var client = new { clientId = "twin-client", clientType = "confidential", grantTypes = new[] { "client_credentials" } };
        factory.BeforeClientWrite.Arm(2);

        var results = await Task.WhenAll(
            tokens.AdminAsync(HttpMethod.Post, "/admin/clients", client, admin),
            tokens.AdminAsync(HttpMethod.Post, "/admin/clients", client, admin));

        AssertOneCreatedOneConflict(results, factory.BeforeClientWrite);
    }

    [Fact]
    public async Task Of_two_identical_scope_creations_at_once_one_is_created_and_the_other_is_a_409()
    {
        var admin = await tokens.AdminTokenAsync();
        var scope = new { name = "twin-scope", resources = new[] { "twin-api" } };
        factory.BeforeScopeWrite.Arm(2);

        var results = await Task.WhenAll(
            tokens.AdminAsync(HttpMethod.Post, "/admin/scopes", scope, admin),
            tokens.AdminAsync(HttpMethod.Post, "/admin/scopes", scope, admin));

        AssertOneCreatedOneConflict(results, factory.BeforeScopeWrite);
    }

    private static void AssertOneCreatedOneConflict((HttpStatusCode Status, System.Text.Json.JsonElement Body)[] results, Rendezvous rendezvous)
    {
        var summary = string.Join(" | ", results.Select(r => $"{(int)r.Status} {r.Body}"));
        Assert.Equal(2, rendezvous.Arrived);
        Assert.True(results.Count(r => r.Status == HttpStatusCode.Created) == 1, summary);
        Assert.True(results.Count(r => r.Status == HttpStatusCode.Conflict) == 1, summary);
    }

    public sealed class RaceFactory : IdentityServerFactory
    {
        public Rendezvous BeforeClientWrite { get; } = new();

        public Rendezvous BeforeScopeWrite { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services =>
            {
                services.AddScoped<IOpenIddictApplicationStore<OpenIddictEntityFrameworkCoreApplication>>(provider => new HeldApplicationStore(
                    provider.GetRequiredService<IMemoryCache>(), provider.GetRequiredService<IOpenIddictEntityFrameworkCoreContext>(),
                    provider.GetRequiredService<IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions>>(), BeforeClientWrite));
                services.AddScoped<IOpenIddictScopeStore<OpenIddictEntityFrameworkCoreScope>>(provider => new HeldScopeStore(
                    provider.GetRequiredService<IMemoryCache>(), provider.GetRequiredService<IOpenIddictEntityFrameworkCoreContext>(),
                    provider.GetRequiredService<IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions>>(), BeforeScopeWrite));
            });
        }
    }

    private sealed class HeldApplicationStore(
        IMemoryCache cache, IOpenIddictEntityFrameworkCoreContext context, IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions> options, Rendezvous rendezvous)
        : OpenIddictEntityFrameworkCoreApplicationStore(cache, context, options)
    {
        public override async ValueTask CreateAsync(OpenIddictEntityFrameworkCoreApplication application, CancellationToken cancellationToken)
        {
            await rendezvous.ArriveAsync();
            await base.CreateAsync(application, cancellationToken);
        }
    }

    private sealed class HeldScopeStore(
        IMemoryCache cache, IOpenIddictEntityFrameworkCoreContext context, IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions> options, Rendezvous rendezvous)
        : OpenIddictEntityFrameworkCoreScopeStore(cache, context, options)
    {
        public override async ValueTask CreateAsync(OpenIddictEntityFrameworkCoreScope scope, CancellationToken cancellationToken)
        {
            await rendezvous.ArriveAsync();
            await base.CreateAsync(scope, cancellationToken);
        }
    }
}
