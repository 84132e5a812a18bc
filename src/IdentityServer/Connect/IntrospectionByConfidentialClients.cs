using System.Security.Claims;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// Who may introspect what. OpenIddict answers an access token only to its client or to a client whose id is one of
/// its audiences; audiences are scope resources, often URLs (<c>https://api.example</c>), which no client id can be,
/// so an API registered as a client saw its users' live tokens as inactive. Any confidential client (public ones are
/// refused the endpoint) now introspects access tokens: they are JWTs it could read anyway, and it learns whether one
/// is still live. Keycloak (since 26.4.12) and Duende answer only the audience, whose names are never URLs there.
/// A refresh token stays its own client's business.
/// </summary>
internal static class IntrospectionByConfidentialClients
{
    /// <summary>Replaces OpenIddict's check of the caller against the token's audiences and client.</summary>
    internal sealed class AuthorizedParty : IOpenIddictServerHandler<ValidateIntrospectionRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Replaced { get; } = OpenIddictServerHandlers.Introspection.ValidateAuthorizedParty.Descriptor;

        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateIntrospectionRequestContext>()
                .AddFilter<OpenIddictServerHandlerFilters.RequireClientIdParameter>()
                .UseSingletonHandler<AuthorizedParty>()
                .SetOrder(Replaced.Order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateIntrospectionRequestContext context)
        {
            if (context.GenericTokenPrincipal is { } principal
                && principal.HasTokenType(TokenTypeIdentifiers.RefreshToken)
                && principal.HasClaim(OpenIddict.Abstractions.OpenIddictConstants.Claims.Private.Presenter)
                && !principal.HasPresenter(context.ClientId!))
            {
                // As OpenIddict: the answer is {"active":false}, the same as for a token that does not exist.
                context.Reject(Errors.InvalidToken, "The specified token cannot be introspected by this client.");
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// Gives a caller outside the token's audience what OpenIddict gives one inside it: the user's name, the scopes
    /// and the token's other claims. The token's own client also gets the scopes and user of its refresh tokens.
    /// </summary>
    internal sealed class Answer : IOpenIddictServerHandler<HandleIntrospectionRequestContext>
    {
        // What the response carries as metadata already, or keeps to this server.
        private static readonly HashSet<string> NotClaims = new(StringComparer.Ordinal)
        {
            JwtRegisteredClaimNames.Aud, JwtRegisteredClaimNames.Exp, JwtRegisteredClaimNames.Iat, JwtRegisteredClaimNames.Iss,
            JwtRegisteredClaimNames.Jti, JwtRegisteredClaimNames.Nbf, JwtRegisteredClaimNames.Sub, "cnf",
            OpenIddict.Abstractions.OpenIddictConstants.Claims.Scope, OpenIddict.Abstractions.OpenIddictConstants.Claims.ClientId,
            OpenIddict.Abstractions.OpenIddictConstants.Claims.TokenType, OpenIddict.Abstractions.OpenIddictConstants.Claims.TokenUsage,
        };

        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<HandleIntrospectionRequestContext>()
                .UseSingletonHandler<Answer>()
                .SetOrder(OpenIddictServerHandlers.Introspection.AttachApplicationClaims.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleIntrospectionRequestContext context)
        {
            // Only access and refresh tokens get this far (ProtocolErrors.OnlyAccessAndRefreshTokensIntrospectActive).
            if (context.GenericTokenPrincipal is not { } principal || string.IsNullOrEmpty(context.Request.ClientId))
            {
                return ValueTask.CompletedTask;
            }

            // A client's own token (client_credentials: its subject is the client) names no resource owner, though it
            // carries the client's display name, which OpenIddict gives an audience as RFC 7662's username.
            var clientsOwnToken = string.Equals(context.Subject, context.ClientId, StringComparison.Ordinal);
            var inAudience = principal.HasAudience(context.Request.ClientId);
            if (!inAudience)
            {
                context.Scopes.UnionWith(principal.GetScopes());
                context.Username = principal.Identity?.Name;
                if (principal.HasTokenType(TokenTypeIdentifiers.AccessToken))
                {
                    AttachClaims(context, principal);
                }
            }

            if (clientsOwnToken)
            {
                context.Username = null;
            }

            return ValueTask.CompletedTask;
        }

        private static void AttachClaims(HandleIntrospectionRequestContext context, ClaimsPrincipal principal)
        {
            foreach (var claims in principal.Claims.GroupBy(claim => claim.Type, StringComparer.Ordinal))
            {
                if (NotClaims.Contains(claims.Key) || claims.Key.StartsWith("oi_", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var values = claims.Select(Value).ToList();
                context.Claims[claims.Key] = values.Count == 1
                    ? new OpenIddictParameter(values[0])
                    : new OpenIddictParameter(JsonSerializer.SerializeToElement(values));
            }
        }

        /// <summary>A claim's value as the JWT held it: true and 42 stay a boolean and a number.</summary>
        private static JsonElement Value(Claim claim) => claim.ValueType switch
        {
            ClaimValueTypes.Boolean when bool.TryParse(claim.Value, out var flag) => JsonSerializer.SerializeToElement(flag),
            ClaimValueTypes.Integer or ClaimValueTypes.Integer32 or ClaimValueTypes.Integer64
                when long.TryParse(claim.Value, out var number) => JsonSerializer.SerializeToElement(number),
            JsonClaimValueTypes.Json or JsonClaimValueTypes.JsonArray => JsonElement.Parse(claim.Value),
            _ => JsonSerializer.SerializeToElement(claim.Value),
        };
    }
}
