using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// A refresh that narrows its scopes to ones without <c>openid</c> gets no ID token, as in Keycloak: OpenIddict looks at
/// the grant's scopes (which the refresh token keeps) rather than at what this request asked for.
/// </summary>
internal sealed class IdTokenOnlyWithOpenId : IOpenIddictServerHandler<ProcessSignInContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
            .UseSingletonHandler<IdTokenOnlyWithOpenId>()
            .SetOrder(OpenIddictServerHandlers.EvaluateGeneratedTokens.Descriptor.Order + 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ProcessSignInContext context)
    {
        if (context.EndpointType == OpenIddictServerEndpointType.Token && context.Request.IsRefreshTokenGrantType()
            && !string.IsNullOrEmpty(context.Request.Scope) && !context.Request.HasScope(Scopes.OpenId))
        {
            context.GenerateIdentityToken = false;
            context.IncludeIdentityToken = false;
        }

        return ValueTask.CompletedTask;
    }
}
