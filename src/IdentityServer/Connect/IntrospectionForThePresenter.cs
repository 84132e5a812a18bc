using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// OpenIddict tells a token's scopes and username only to a caller in its audience (a resource API). The client the
/// access or refresh token was issued to, introspecting it, got no <c>scope</c> either: RFC 7662's field clients rely on, which
/// Keycloak returns to it. It already holds the token, a readable JWT carrying the same, so nothing new is disclosed.
/// </summary>
internal sealed class IntrospectionForThePresenter : IOpenIddictServerHandler<HandleIntrospectionRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<HandleIntrospectionRequestContext>()
            .UseSingletonHandler<IntrospectionForThePresenter>()
            .SetOrder(OpenIddictServerHandlers.Introspection.AttachApplicationClaims.Descriptor.Order + 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(HandleIntrospectionRequestContext context)
    {
        // Only access and refresh tokens get this far (ProtocolErrors.OnlyAccessAndRefreshTokensIntrospectActive).
        if (context.GenericTokenPrincipal is not { } principal)
        {
            return ValueTask.CompletedTask;
        }

        // A client's own token (client_credentials: its subject is the client) names no resource owner, though it carries
        // the client's display name, which OpenIddict would give an audience as RFC 7662's username (a user's identifier).
        var ownToken = string.Equals(context.Subject, context.ClientId, StringComparison.Ordinal);
        if (ownToken)
        {
            context.Username = null;
        }

        if (context.Scopes.Count == 0
            && !string.IsNullOrEmpty(context.Request.ClientId)
            && string.Equals(context.ClientId, context.Request.ClientId, StringComparison.Ordinal))
        {
            context.Scopes.UnionWith(principal.GetScopes());
            if (!ownToken)
            {
                context.Username ??= principal.Identity?.Name;
            }
        }

        return ValueTask.CompletedTask;
    }
}
