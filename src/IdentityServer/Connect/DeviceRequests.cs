using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>What this server adds to OpenIddict's device authorization grant (RFC 8628); the page is Connect/Verify.</summary>
internal static class DeviceRequests
{
    public static IEnumerable<OpenIddictServerHandlerDescriptor> Descriptors =>
        [DefaultScopes.Descriptor, RefuseUsedCodes.Descriptor, DevicePolling.SlowDown.Descriptor, DevicePolling.AdvertiseInterval.Descriptor];

    /// <summary>
    /// A device that names no scope (RFC 8628 makes it optional) asks for what a password grant without one gets: every
    /// scope the client may use but admin (as Keycloak gives a client's default scopes), not an approval of nothing.
    /// </summary>
    internal sealed class DefaultScopes(IOpenIddictApplicationManager applications) : IOpenIddictServerHandler<ValidateDeviceAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateDeviceAuthorizationRequestContext>()
                .UseScopedHandler<DefaultScopes>()
                // Once the client is authenticated, ahead of the scope permission check (ProtocolErrors.ScopeNotAllowed).
                .SetOrder(OpenIddictServerHandlers.Device.ValidateGrantTypePermissions.Descriptor.Order - 2)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateDeviceAuthorizationRequestContext context)
        {
            if (string.IsNullOrWhiteSpace(context.Request.Scope)
                && context.ClientId is { Length: > 0 } clientId
                && await applications.FindByClientIdAsync(clientId, context.CancellationToken) is { } application)
            {
                context.Request.Scope = string.Join(' ', await StandardScopes.UserDefaultsAsync(applications, application, context.CancellationToken));
            }
        }
    }

    /// <summary>
    /// A user code opened again once used (the Back button, the link followed twice, or someone else who saw the code)
    /// is no longer valid, and nothing more: OpenIddict takes any used single-use token for a replay and revokes its
    /// grant, which here would end the sign-in of the device the user just approved. Likewise any device or user code
    /// sent to introspection or revocation, used or still pending: it introspects inactive (RFC 7662), not
    /// authorization_pending, and ends nothing. (At the token endpoint a used device code stays a replay, as a code.)
    /// </summary>
    internal sealed class RefuseUsedCodes(IOpenIddictTokenManager tokens) : IOpenIddictServerHandler<ValidateTokenContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenContext>()
                .AddFilter<OpenIddictServerHandlerFilters.RequireTokenStorageEnabled>()
                .AddFilter<CodePresented>()
                .UseScopedHandler<RefuseUsedCodes>()
                .SetOrder(OpenIddictServerHandlers.Protection.ValidateTokenEntry.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateTokenContext context)
        {
            if (context.Principal?.GetTokenId() is not { Length: > 0 } identifier)
            {
                return;
            }

            if (await tokens.FindByIdAsync(identifier, context.CancellationToken) is not { } token
                || !await tokens.HasStatusAsync(token, Statuses.Valid, context.CancellationToken))
            {
                context.Reject(Errors.InvalidToken, "The specified code is no longer valid, or not yet.");
            }
        }

        /// <summary>
        /// A user code (the verification page, or sent to introspection or revocation, which take any token type), or a
        /// device code sent to those two. Every other token (userinfo's, introspection's access tokens) skips building
        /// the handler.
        /// </summary>
        internal sealed class CodePresented : IOpenIddictServerHandlerFilter<ValidateTokenContext>
        {
            public ValueTask<bool> IsActiveAsync(ValidateTokenContext context) =>
                ValueTask.FromResult(context.Principal is { } principal
                    && (principal.HasTokenType(TokenTypeIdentifiers.Private.UserCode)
                        || (principal.HasTokenType(TokenTypeIdentifiers.Private.DeviceCode)
                            && context.EndpointType is OpenIddictServerEndpointType.Introspection or OpenIddictServerEndpointType.Revocation)));
        }
    }
}
