using OpenIddict.Abstractions;
using OpenIddict.Server;

namespace IdentityServer.Connect;

/// <summary>
/// Lists the scopes admins created (api1, ...) in discovery's <c>scopes_supported</c>, beside the built-in ones, from
/// the names <see cref="CachingScopeManager"/> (the scope manager ConnectExtensions registers) keeps in memory.
/// </summary>
internal sealed class AdvertiseStoredScopes(IOpenIddictScopeManager scopes)
    : IOpenIddictServerHandler<OpenIddictServerEvents.HandleConfigurationRequestContext>
{
    public async ValueTask HandleAsync(OpenIddictServerEvents.HandleConfigurationRequestContext context) =>
        context.Scopes.UnionWith(await ((CachingScopeManager)scopes).ListNamesAsync(context.CancellationToken));
}
