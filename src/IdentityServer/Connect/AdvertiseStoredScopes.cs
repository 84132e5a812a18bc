using OpenIddict.Abstractions;
using OpenIddict.Server;

namespace IdentityServer.Connect;

/// <summary>Lists the scopes admins created (api1, ...) in discovery's <c>scopes_supported</c>, beside the built-in ones.</summary>
internal sealed class AdvertiseStoredScopes(IOpenIddictScopeManager scopes)
    : IOpenIddictServerHandler<OpenIddictServerEvents.HandleConfigurationRequestContext>
{
    public async ValueTask HandleAsync(OpenIddictServerEvents.HandleConfigurationRequestContext context)
    {
        // From memory with the caching manager (every discovery request comes here); a plain manager reads them all.
        if (scopes is CachingScopeManager caching)
        {
            context.Scopes.UnionWith(await caching.ListNamesAsync(context.CancellationToken));
            return;
        }

        await foreach (var scope in scopes.ListAsync(count: null, offset: null, context.CancellationToken))
        {
            if (await scopes.GetNameAsync(scope, context.CancellationToken) is { Length: > 0 } name)
            {
                context.Scopes.Add(name);
            }
        }
    }
}
