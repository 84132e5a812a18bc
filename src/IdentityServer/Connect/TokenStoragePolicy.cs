using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// Which tokens get a row in the token table. Rows make revocation, single use and chain revocation work, and cost an
/// INSERT (behind SQLite's single writer) per token. Two kinds of token need none:
/// - identity tokens: nothing ever redeems or revokes them; an id_token_hint at end session is checked by signature.
/// - access tokens a client gets for itself (client_credentials): self-contained JWTs that introspection answers for
///   from signature and expiry, and <see cref="RequireExistingClient"/> refuses once their client is deleted (they name
///   the client's stored row, so a client registered again under the same id does not revive them). They
///   cannot be revoked one by one before they expire (minutes); revoking one is refused as an unsupported token type,
///   as RFC 7009 allows. Tokens carrying the admin scope keep their row, so the admin API checks them as before.
/// Refresh tokens, authorization codes and users' access tokens are always stored.
/// </summary>
internal sealed class TokenStoragePolicy(IOpenIddictApplicationManager applications) : IOpenIddictServerHandler<GenerateTokenContext>
{
    /// <summary>The stored row (not the reusable client_id) of the client an unstored access token was issued to.</summary>
    internal const string ClientRowClaim = "oi_cl_row";

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<GenerateTokenContext>()
            .UseScopedHandler<TokenStoragePolicy>()
            // Between choosing the credentials and creating the entry.
            .SetOrder(OpenIddictServerHandlers.Protection.AttachSecurityCredentials.Descriptor.Order + 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(GenerateTokenContext context)
    {
        if (context.TokenType is TokenTypeIdentifiers.IdentityToken)
        {
            context.CreateTokenEntry = false;
            context.PersistTokenPayload = false;
        }
        else if (context.TokenType is TokenTypeIdentifiers.AccessToken
            && context.Request is { ClientId: { Length: > 0 } clientId } request && request.IsClientCredentialsGrantType()
            && !context.Principal.HasScope(StandardScopes.Admin)
            && await applications.FindByClientIdAsync(clientId, context.CancellationToken) is { } client)
        {
            context.CreateTokenEntry = false;
            context.PersistTokenPayload = false;
            context.Principal.SetClaim(ClientRowClaim, await applications.GetIdAsync(client, context.CancellationToken));
        }
    }

    /// <summary>Refuses a token without a database row (see above) once the client it was issued to is deleted.</summary>
    internal sealed class RequireExistingClient(IOpenIddictApplicationManager applications) : IOpenIddictServerHandler<ValidateTokenContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenContext>()
                .UseScopedHandler<RequireExistingClient>()
                .SetOrder(OpenIddictServerHandlers.Protection.ValidateTokenEntry.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateTokenContext context)
        {
            if (context.Principal is not { } principal
                || !string.IsNullOrEmpty(principal.GetTokenId())
                || principal.GetTokenType() is not TokenTypeIdentifiers.AccessToken)
            {
                return;
            }

            var clientId = principal.GetClaim(Claims.ClientId) ?? principal.GetPresenters().FirstOrDefault();
            if (string.IsNullOrEmpty(clientId) || await applications.FindByClientIdAsync(clientId, context.CancellationToken) is not { } client
                // Tokens issued before the row was named in them are checked by client_id alone.
                || (principal.GetClaim(ClientRowClaim) is { } row
                    && !string.Equals(row, await applications.GetIdAsync(client, context.CancellationToken), StringComparison.Ordinal)))
            {
                context.Reject(error: Errors.InvalidToken, description: "The client this token was issued to no longer exists.");
            }
        }
    }
}
