using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// Parameters Keycloak and Duende ignore where OpenIddict refuses the whole request with invalid_request. RFC 6749 3.1
/// and 3.2: a server ignores request parameters it does not recognize.
/// </summary>
internal static class IgnoredParameters
{
    // After a repeated parameter is refused (WellFormedRequests), before OpenIddict's own checks of these parameters.
    private const int Order = WellFormedRequests.Order + 1_000;

    public static IEnumerable<OpenIddictServerHandlerDescriptor> Descriptors =>
    [
        ScopeAtCodeRedemption.Descriptor,
        Audience<ValidateAuthorizationRequestContext>.Descriptor,
        Audience<ValidateTokenRequestContext>.Descriptor,
    ];

    /// <summary>
    /// A code redemption that repeats <c>scope</c> (MSAL and OmniAuth do) is served as if it had not: RFC 6749 4.1.3
    /// defines no such parameter and the tokens carry what the user granted at the authorize step.
    /// </summary>
    internal sealed class ScopeAtCodeRedemption : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseSingletonHandler<ScopeAtCodeRedemption>()
                .SetOrder(Order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            if (context.Request.IsAuthorizationCodeGrantType())
            {
                context.Request.Scope = null;
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// Auth0's <c>audience</c>, which its SDKs and samples (express-openid-connect, client_credentials workers) send
    /// with every request. OpenIddict takes it only for token exchange, which is not offered here; the audiences of a
    /// token follow its scopes.
    /// </summary>
    internal sealed class Audience<TContext> : IOpenIddictServerHandler<TContext> where TContext : BaseValidatingContext
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .UseSingletonHandler<Audience<TContext>>()
                .SetOrder(Order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(TContext context)
        {
            context.Transaction.Request?.RemoveParameter(OpenIddictConstants.Parameters.Audience);
            return ValueTask.CompletedTask;
        }
    }
}
