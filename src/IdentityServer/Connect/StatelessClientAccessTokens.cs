using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// Access tokens a client gets for itself (client_credentials) are not written to the token table. They are
/// self-contained JWTs: introspection still answers for them from the signature and expiry, and resource APIs
/// never asked us anyway. Writing a row per token was the largest database cost of the grant (an INSERT, plus the
/// lookups that link it to its client). The price: such a token cannot be revoked before it expires (minutes);
/// revoking one is refused as an unsupported token type, as RFC 7009 allows.
/// Deleting the client still ends its tokens: <see cref="RequireExistingClient"/> refuses a row-less token whose
/// client is gone. Tokens carrying the admin scope keep their row, so the admin API checks them as before.
/// </summary>
internal sealed class StatelessClientAccessTokens : IOpenIddictServerHandler<GenerateTokenContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<GenerateTokenContext>()
            .UseSingletonHandler<StatelessClientAccessTokens>()
            // Between choosing the credentials and creating the entry.
            .SetOrder(OpenIddictServerHandlers.Protection.AttachSecurityCredentials.Descriptor.Order + 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(GenerateTokenContext context)
    {
        if (context.TokenType is TokenTypeIdentifiers.AccessToken or TokenTypeHints.AccessToken
            && context.Request is { } request && request.IsClientCredentialsGrantType()
            && !context.Principal.HasScope(StandardScopes.Admin))
        {
            context.CreateTokenEntry = false;
            context.PersistTokenPayload = false;
        }

        return default;
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
                || principal.GetTokenType() is not (TokenTypeIdentifiers.AccessToken or TokenTypeHints.AccessToken))
            {
                return;
            }

            var clientId = principal.GetClaim(Claims.ClientId) ?? principal.GetPresenters().FirstOrDefault();
            if (string.IsNullOrEmpty(clientId) || await applications.FindByClientIdAsync(clientId, context.CancellationToken) is null)
            {
                context.Reject(error: Errors.InvalidToken, description: "The client this token was issued to no longer exists.");
            }
        }
    }
}
