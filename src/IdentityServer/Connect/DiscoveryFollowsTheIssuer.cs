using Microsoft.Extensions.Options;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// With <c>IdentityServer:Issuer</c> set, discovery names every endpoint under it, as Keycloak does with its hostname
/// setting. OpenIddict builds them from the address the request came to: a request carrying another Host header
/// (or a proxy that forwards its upstream address) would publish endpoints elsewhere than the issuer, and a cache
/// keyed on the path alone would hand that document to every client.
/// </summary>
internal sealed class DiscoveryFollowsTheIssuer(IOptions<ConnectOptions> options) : IOpenIddictServerHandler<HandleConfigurationRequestContext>
{
    // Relative endpoint paths resolve under the issuer's own path only with a trailing slash. Made once: the handler is
    // a singleton and the issuer is fixed at start.
    private readonly Uri? baseUri = options.Value.Issuer is { } issuer
        ? issuer.AbsoluteUri.EndsWith('/') ? issuer : new Uri(issuer.AbsoluteUri + "/")
        : null;

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
            .UseSingletonHandler<DiscoveryFollowsTheIssuer>()
            // Before OpenIddict fills in the endpoints from the base address.
            .SetOrder(OpenIddictServerHandlers.Discovery.AttachEndpoints.Descriptor.Order - 1_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(HandleConfigurationRequestContext context)
    {
        if (baseUri is not null)
        {
            context.BaseUri = baseUri;
        }

        return ValueTask.CompletedTask;
    }
}
