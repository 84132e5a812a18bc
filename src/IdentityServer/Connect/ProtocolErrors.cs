using System.Text.RegularExpressions;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;
using Authentication = OpenIddict.Server.OpenIddictServerHandlers.Authentication;
using Device = OpenIddict.Server.OpenIddictServerHandlers.Device;
using Exchange = OpenIddict.Server.OpenIddictServerHandlers.Exchange;
using Introspection = OpenIddict.Server.OpenIddictServerHandlers.Introspection;

namespace IdentityServer.Connect;

/// <summary>
/// Refusals the way RFC 6749 words them and Keycloak answers them, where OpenIddict answers differently: errors in an
/// authorization request go back to the client once its id and redirect_uri are good, scope problems are
/// <c>invalid_scope</c>, a confidential client that sends no credentials is <c>invalid_client</c> (401) and gets the
/// same answer as an unknown client id, a <c>code_challenge</c> and <c>code_verifier</c> must have RFC 7636's shape,
/// an authorization request names a scope, introspection calls only access and refresh tokens active, and a client's
/// permission for its grant is checked before its code or token is read.
/// </summary>
internal static partial class ProtocolErrors
{
    /// <summary>What a request without client credentials hears, whether or not its client id exists.</summary>
    internal const string MustAuthenticate = "The client is unknown, or must authenticate: send its client_secret (HTTP Basic or the form).";

    public static void Register(OpenIddictServerBuilder server)
    {
        server.RemoveEventHandler(Authentication.ValidateScopePermissions.Descriptor);
        server.RemoveEventHandler(Exchange.ValidateScopePermissions.Descriptor);
        server.RemoveEventHandler(Device.ValidateScopePermissions.Descriptor);
        server.RemoveEventHandler(Introspection.ValidateTokenType.Descriptor);
        foreach (var handler in new[]
        {
            ErrorsBackToTheClient.Descriptor, ErrorsBackToTheClient.InAResponseModeTheClientReads.Descriptor,
            CodeChallengeShape.Descriptor, CodeVerifierShape.Descriptor, ScopeRequired.Descriptor,
            ScopeNotAllowed<ValidateAuthorizationRequestContext>.Before(Authentication.ValidateGrantTypePermissions.Descriptor, context => context.ClientId),
            ScopeNotAllowed<ValidateTokenRequestContext>.Before(Exchange.ValidateGrantTypePermissions.Descriptor, context => context.ClientId),
            ScopeNotAllowed<ValidateDeviceAuthorizationRequestContext>.Before(Device.ValidateGrantTypePermissions.Descriptor, context => context.ClientId),
            ScopeBeyondTheGrant.Descriptor, NoClientCredentials.Descriptor, OnlyAccessAndRefreshTokensIntrospectActive.Descriptor,
            PermissionsBeforeTokens.Descriptor,
            UnknownClientAsWrongCredentials<ApplyTokenResponseContext>.Descriptor,
            UnknownClientAsWrongCredentials<ApplyIntrospectionResponseContext>.Descriptor,
            UnknownClientAsWrongCredentials<ApplyRevocationResponseContext>.Descriptor,
        })
        {
            server.AddEventHandler(handler);
        }
    }

    /// <summary>
    /// OpenIddict shows every error found while validating an authorization request on a page of the server's own. RFC
    /// 6749 4.1.2.1 keeps on the server only errors about the client or its redirect_uri: once the client exists and
    /// the redirect_uri is one it registered (exactly), the client hears of the error there, with the request's state
    /// and the issuer, and can tell its user (a single-page app would otherwise leave them on a bare error page).
    /// </summary>
    internal sealed class ErrorsBackToTheClient(IOpenIddictApplicationManager applications) : IOpenIddictServerHandler<ApplyAuthorizationResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyAuthorizationResponseContext>()
                .UseScopedHandler<ErrorsBackToTheClient>()
                .SetOrder(Authentication.AttachRedirectUri.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ApplyAuthorizationResponseContext context)
        {
            if (!string.IsNullOrEmpty(context.RedirectUri) || string.IsNullOrEmpty(context.Response.Error)
                || context.Request is not { ClientId: { Length: > 0 } clientId, RedirectUri: { Length: > 0 } redirectUri }
                || context.Transaction.GetProperty<ValidateAuthorizationRequestContext>(typeof(ValidateAuthorizationRequestContext).FullName!) is not { IsRejected: true }
                || await applications.FindByClientIdAsync(clientId, context.CancellationToken) is not { } application
                || !await applications.ValidateRedirectUriAsync(application, redirectUri, context.CancellationToken))
            {
                return;
            }

            context.RedirectUri = redirectUri;
        }

        /// <summary>A response_mode the server refused cannot carry the error: the response type's default does.</summary>
        internal sealed class InAResponseModeTheClientReads : IOpenIddictServerHandler<ApplyAuthorizationResponseContext>
        {
            public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
                OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyAuthorizationResponseContext>()
                    .UseSingletonHandler<InAResponseModeTheClientReads>()
                    .SetOrder(Authentication.InferResponseMode.Descriptor.Order + 500)
                    .SetType(OpenIddictServerHandlerType.Custom)
                    .Build();

            public ValueTask HandleAsync(ApplyAuthorizationResponseContext context)
            {
                if (!string.IsNullOrEmpty(context.RedirectUri) && context.Request is { } request
                    && context.ResponseMode is not (ResponseModes.Query or ResponseModes.Fragment or ResponseModes.FormPost))
                {
                    context.ResponseMode = request.HasResponseType(ResponseTypes.Token) || request.HasResponseType(ResponseTypes.IdToken)
                        ? ResponseModes.Fragment
                        : ResponseModes.Query;
                }

                return ValueTask.CompletedTask;
            }
        }
    }

    /// <summary>
    /// Only S256 is accepted, and an S256 challenge is the base64url SHA-256 of the verifier: exactly 43 characters of
    /// A-Z, a-z, 0-9, "-" and "_" (RFC 7636 4.2). Anything else can never match a verifier.
    /// </summary>
    internal sealed partial class CodeChallengeShape : IOpenIddictServerHandler<ValidateAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
                .UseSingletonHandler<CodeChallengeShape>()
                .SetOrder(Authentication.ValidateProofKeyForCodeExchangeParameters.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
        {
            if (context.Request.CodeChallenge is { } challenge && !ChallengeGrammar().IsMatch(challenge))
            {
                context.Reject(Errors.InvalidRequest, "The 'code_challenge' parameter must be an S256 challenge: 43 base64url characters (RFC 7636).");
            }

            return ValueTask.CompletedTask;
        }

        [GeneratedRegex(@"^[A-Za-z0-9_-]{43}\z")]
        private static partial Regex ChallengeGrammar();
    }

    /// <summary>
    /// An authorization request that names no scope would end in a token with no scope, which RFC 6749 3.3 lets the
    /// server refuse and Duende does: invalid_scope, back at the client's redirect_uri.
    /// </summary>
    internal sealed class ScopeRequired : IOpenIddictServerHandler<ValidateAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
                .UseSingletonHandler<ScopeRequired>()
                .SetOrder(Authentication.ValidateProofKeyForCodeExchangeParameters.Descriptor.Order + 600)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
        {
            if (string.IsNullOrWhiteSpace(context.Request.Scope))
            {
                context.Reject(Errors.InvalidScope, "The request names no scope: ask for the scopes the app needs (openid to sign the user in).");
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// RFC 7636 4.1: a code_verifier is 43 to 128 characters of A-Z, a-z, 0-9, "-", ".", "_" and "~". OpenIddict
    /// compared any string's hash with the challenge, so a client with a short, guessable verifier was never told.
    /// Refused as Keycloak does, before the code is looked at.
    /// </summary>
    internal sealed partial class CodeVerifierShape : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseSingletonHandler<CodeVerifierShape>()
                .SetOrder(Exchange.ValidateProofKeyForCodeExchangeParameters.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            if (context.Request.CodeVerifier is { } verifier && !VerifierGrammar().IsMatch(verifier))
            {
                context.Reject(Errors.InvalidRequest, "The 'code_verifier' parameter must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~' (RFC 7636).");
            }

            return ValueTask.CompletedTask;
        }

        [GeneratedRegex(@"^[A-Za-z0-9._~-]{43,128}\z")]
        private static partial Regex VerifierGrammar();
    }

    /// <summary>
    /// A registered scope the client may not use: invalid_scope (RFC 6749 4.1.2.1, 5.2), where OpenIddict's own check,
    /// which this replaces, says invalid_request. It goes ahead of OpenIddict's grant type check, which refuses
    /// offline_access without the refresh_token grant as invalid_request too. One class for authorization, token and device requests.
    /// </summary>
    internal sealed class ScopeNotAllowed<TContext>(IOpenIddictApplicationManager applications, Func<TContext, string?> clientId)
        : IOpenIddictServerHandler<TContext>
        where TContext : BaseValidatingContext
    {
        public static OpenIddictServerHandlerDescriptor Before(OpenIddictServerHandlerDescriptor grantTypeCheck, Func<TContext, string?> clientId) =>
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .AddFilter<OpenIddictServerHandlerFilters.RequireScopePermissionsEnabled>()
                .UseScopedHandler(services => new ScopeNotAllowed<TContext>(services.GetRequiredService<IOpenIddictApplicationManager>(), clientId))
                .SetOrder(grantTypeCheck.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(TContext context)
        {
            if (await NotAllowedAsync(applications, clientId(context), context.Transaction.Request!, context.CancellationToken) is { } scope)
            {
                context.Reject(Errors.InvalidScope, $"This client application is not allowed to use the scope '{scope}'.");
            }
        }
    }

    // The first requested scope the client may not use, by the rule OpenIddict applies (StandardScopes.IsPermittedAsync).
    private static async Task<string?> NotAllowedAsync(
        IOpenIddictApplicationManager applications, string? clientId, OpenIddictRequest request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(clientId) || await applications.FindByClientIdAsync(clientId, cancellationToken) is not { } application)
        {
            return null;   // OpenIddict's own client checks answer that
        }

        foreach (var scope in request.GetScopes())
        {
            if (!await StandardScopes.IsPermittedAsync(applications, application, scope, cancellationToken))
            {
                return scope;
            }
        }

        return null;
    }

    /// <summary>A refresh asking for a scope the grant never had: invalid_scope (RFC 6749 5.2), not invalid_grant.</summary>
    internal sealed class ScopeBeyondTheGrant : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseSingletonHandler<ScopeBeyondTheGrant>()
                .SetOrder(Exchange.ValidateGrantedScopes.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            if (context.Request.IsRefreshTokenGrantType() && !string.IsNullOrEmpty(context.Request.Scope)
                && context.RefreshTokenPrincipal?.GetScopes() is { Length: > 0 } granted
                && context.Request.GetScopes().FirstOrDefault(scope => !granted.Contains(scope, StringComparer.Ordinal)) is { } beyond)
            {
                context.Reject(Errors.InvalidScope, $"The scope '{beyond}' was not granted to this refresh token.");
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// A confidential client's client_credentials request with no secret (nor assertion) has not authenticated the
    /// client: invalid_client and 401 (RFC 6749 5.2 "no client authentication included"), not OpenIddict's
    /// invalid_request. A public client has nothing to send: the grant is not for it, unauthorized_client (as Keycloak).
    /// </summary>
    internal sealed class NoClientCredentials(IOpenIddictApplicationManager applications) : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .AddFilter<WithoutASecret>()
                .UseScopedHandler<NoClientCredentials>()
                .SetOrder(Exchange.ValidateClientCredentialsParameters.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            if (string.IsNullOrEmpty(context.ClientId)
                || await applications.FindByClientIdAsync(context.ClientId, context.CancellationToken) is not { } client
                || !await applications.HasClientTypeAsync(client, ClientTypes.Public, context.CancellationToken))
            {
                context.Reject(Errors.InvalidClient, MustAuthenticate);
            }
            else
            {
                context.Reject(Errors.UnauthorizedClient, "A public client cannot use the client_credentials grant.");
            }
        }

        /// <summary>Only client_credentials requests that carry no credential reach the handler.</summary>
        internal sealed class WithoutASecret : IOpenIddictServerHandlerFilter<ValidateTokenRequestContext>
        {
            public ValueTask<bool> IsActiveAsync(ValidateTokenRequestContext context) => ValueTask.FromResult(
                context.Request.IsClientCredentialsGrantType() && string.IsNullOrEmpty(context.Request.ClientSecret)
                && string.IsNullOrEmpty(context.Request.ClientAssertion) && string.IsNullOrEmpty(context.Request.ClientAssertionType)
                && context.Transaction.RemoteCertificate is null);
        }
    }

    /// <summary>
    /// An unknown client id is answered as a known one is, as Keycloak does ("Invalid client or Invalid client
    /// credentials"): with a secret, as a wrong secret; without one, as a confidential client that sent none.
    /// OpenIddict's own messages for it told anyone which client ids exist.
    /// </summary>
    internal sealed class UnknownClientAsWrongCredentials<TContext> : IOpenIddictServerHandler<TContext> where TContext : BaseRequestContext
    {
        private const string UnknownClient = "ID2052";
        private const string WrongCredentials = "ID2055";
        private const string NoCredentials = "ID2198";

        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .UseSingletonHandler<UnknownClientAsWrongCredentials<TContext>>()
                .SetOrder(int.MinValue + 50_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(TContext context)
        {
            if (context.Transaction.Response is { Error: Errors.InvalidClient, ErrorUri: { } uri } response
                && (uri.EndsWith(UnknownClient, StringComparison.Ordinal) || uri.EndsWith(NoCredentials, StringComparison.Ordinal)))
            {
                var sentNoCredentials = context.Transaction.Request is not { } request
                    || (string.IsNullOrEmpty(request.ClientSecret) && string.IsNullOrEmpty(request.ClientAssertion));
                response.ErrorDescription = sentNoCredentials ? MustAuthenticate : "The specified client credentials are invalid.";
                response.ErrorUri = uri[..^UnknownClient.Length] + (sentNoCredentials ? NoCredentials : WrongCredentials);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// RFC 7662 2.2: a token the server will not describe is <c>{"active": false}</c>. OpenIddict answered an ID token
    /// (or an authorization code) with 400 <c>unsupported_token_type</c>, a revocation error (RFC 7009), which a
    /// resource API introspecting whatever bearer it receives took for a failed call. Refused here as an invalid token,
    /// which OpenIddict answers as inactive.
    /// </summary>
    internal sealed class OnlyAccessAndRefreshTokensIntrospectActive : IOpenIddictServerHandler<ValidateIntrospectionRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateIntrospectionRequestContext>()
                .UseSingletonHandler<OnlyAccessAndRefreshTokensIntrospectActive>()
                .SetOrder(Introspection.ValidateTokenType.Descriptor.Order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateIntrospectionRequestContext context)
        {
            if (context.GenericTokenPrincipal is not { } principal
                || !(principal.HasTokenType(TokenTypeIdentifiers.AccessToken) || principal.HasTokenType(TokenTypeIdentifiers.RefreshToken)))
            {
                context.Reject(Errors.InvalidToken, "The token is not active.");
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// A client's permission for the grant it uses, or for introspection, is checked as soon as the client is
    /// authenticated, before the token it sent is looked at (as Duende does). OpenIddict validated the token first, so
    /// a client without the grant got <c>invalid_grant</c> for a bad code or refresh token and <c>unauthorized_client</c>
    /// for a good one (RFC 6749 5.2 means the latter for both), and a client barred from introspection (a public one,
    /// whose id is no secret) learned whether any token was live: <c>unauthorized_client</c> for one that was,
    /// <c>{"active": false}</c> for one that was not.
    /// </summary>
    internal sealed class PermissionsBeforeTokens(IOpenIddictApplicationManager applications) : IOpenIddictServerHandler<ProcessAuthenticationContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
                .AddFilter<OpenIddictServerHandlerFilters.RequireClientIdParameter>()
                .AddFilter<OpenIddictServerHandlerFilters.RequireDegradedModeDisabled>()
                .UseScopedHandler<PermissionsBeforeTokens>()
                // After the client is authenticated (its secret or certificate), before the request's token is validated.
                .SetOrder(OpenIddictServerHandlers.ValidateClientCertificate.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessAuthenticationContext context)
        {
            // OpenIddict's own checks still run later (and answer alike); these follow the same switches.
            var permission = context.EndpointType switch
            {
                OpenIddictServerEndpointType.Token when !string.IsNullOrEmpty(context.Request.GrantType) && !context.Options.IgnoreGrantTypePermissions =>
                    Permissions.Prefixes.GrantType + context.Request.GrantType,
                OpenIddictServerEndpointType.Introspection when !context.Options.IgnoreEndpointPermissions => Permissions.Endpoints.Introspection,
                _ => null,
            };
            if (permission is null
                || await applications.FindByClientIdAsync(context.Request.ClientId!, context.CancellationToken) is not { } client
                || await applications.HasPermissionAsync(client, permission, context.CancellationToken))
            {
                return;
            }

            context.Reject(Errors.UnauthorizedClient, context.EndpointType == OpenIddictServerEndpointType.Token
                ? "This client application is not allowed to use the specified grant type."
                : "This client application is not allowed to use the introspection endpoint.");
        }
    }
}
