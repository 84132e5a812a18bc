using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// A code redemption that repeats <c>scope</c> (MSAL and OmniAuth do) is served as if it had not, as by Keycloak and
/// Duende: RFC 6749 4.1.3 defines no such parameter and the tokens carry what the user granted at the authorize step,
/// whereas OpenIddict refuses the request as invalid_request.
/// </summary>
internal sealed class ScopeIgnoredAtCodeRedemption : IOpenIddictServerHandler<ValidateTokenRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
            .UseSingletonHandler<ScopeIgnoredAtCodeRedemption>()
            // After a repeated parameter is refused (WellFormedRequests), before OpenIddict refuses scope here.
            .SetOrder(WellFormedRequests.Order + 1_000)
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
