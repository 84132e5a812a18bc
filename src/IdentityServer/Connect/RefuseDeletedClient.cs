using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// A token request whose client an admin deletes while it runs (authenticated at its start, gone before its tokens
/// are made) gets invalid_client, not a server error: OpenIddict throws when it cannot find the client to put in the
/// tokens. Read from the client cache, which a deletion through this instance empties at once.
/// </summary>
internal sealed class RefuseDeletedClient(IOpenIddictApplicationManager applications) : IOpenIddictServerHandler<ProcessSignInContext>
{
    public const string Description = "The client application no longer exists.";

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
            .UseScopedHandler<RefuseDeletedClient>()
            // Last thing before OpenIddict looks the client up to build the tokens.
            .SetOrder(OpenIddictServerHandlers.PrepareAccessTokenPrincipal.Descriptor.Order - 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ProcessSignInContext context)
    {
        if (context.EndpointType is OpenIddictServerEndpointType.Token && !string.IsNullOrEmpty(context.ClientId)
            && await applications.FindByClientIdAsync(context.ClientId, context.CancellationToken) is null)
        {
            context.Reject(error: Errors.InvalidClient, description: Description);
        }
    }
}
