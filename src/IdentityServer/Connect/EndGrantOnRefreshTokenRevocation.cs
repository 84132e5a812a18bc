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
/// <remarks>
/// Before OpenIddict revokes the token presented, not after: a refresh redeeming that token meanwhile made OpenIddict's
/// revocation lose its concurrency check (400 "This token cannot be revoked") and the chain, its new tokens included,
/// lived on. Ended here first, the token presented is read again so that OpenIddict's revocation matches its row.
/// </remarks>
internal sealed class EndGrantOnRefreshTokenRevocation(
    IOpenIddictTokenManager tokens, IOpenIddictAuthorizationManager authorizations, Persistence.ApplicationDbContext db)
    : IOpenIddictServerHandler<HandleRevocationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<HandleRevocationRequestContext>()
            .UseScopedHandler<EndGrantOnRefreshTokenRevocation>()
            .SetOrder(OpenIddictServerHandlers.Revocation.RevokeToken.Descriptor.Order - 500)
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
        if (principal.GetTokenId() is { Length: > 0 } tokenId
            && await tokens.FindByIdAsync(tokenId, context.CancellationToken) is OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreToken presented)
        {
            await db.Entry(presented).ReloadAsync(context.CancellationToken);
        }
    }
}
