using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// Revoking a refresh token ends the grant it belongs to: its access tokens stop introspecting active and nothing
/// else issued from that login works (RFC 7009 2.1 "should"; Keycloak ends the session). OpenIddict revokes only
/// the token presented. Every login has an ad-hoc authorization of its own, so other logins of the same user to
/// the same client are untouched; a permanent authorization (remembered consent) is never followed.
/// </summary>
internal sealed class EndGrantOnRefreshTokenRevocation(IOpenIddictTokenManager tokens, IOpenIddictAuthorizationManager authorizations)
    : IOpenIddictServerHandler<HandleRevocationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<HandleRevocationRequestContext>()
            .UseScopedHandler<EndGrantOnRefreshTokenRevocation>()
            .SetOrder(OpenIddictServerHandlers.Revocation.RevokeToken.Descriptor.Order + 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(HandleRevocationRequestContext context)
    {
        if (context.GenericTokenPrincipal is not { } principal
            || principal.GetTokenType() is not TokenTypeIdentifiers.RefreshToken
            || principal.GetAuthorizationId() is not { Length: > 0 } authorizationId
            || await authorizations.FindByIdAsync(authorizationId, context.CancellationToken) is not { } authorization
            || !await authorizations.HasTypeAsync(authorization, AuthorizationTypes.AdHoc, context.CancellationToken))
        {
            return;
        }

        await authorizations.TryRevokeAsync(authorization, context.CancellationToken);
        await tokens.RevokeByAuthorizationIdAsync(authorizationId, context.CancellationToken);
    }
}
