using System.Collections.Immutable;
using Microsoft.AspNetCore;
using Microsoft.Extensions.Primitives;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// Requests OpenIddict takes in a shape the specifications refuse, refused with <c>invalid_request</c> (or the error
/// they name) before anything else looks at them.
/// </summary>
internal static class WellFormedRequests
{
    // Ahead of OpenIddict's first validation handlers (int.MinValue + 100_000).
    internal const int Order = int.MinValue + 50_000;

    public static IEnumerable<OpenIddictServerHandlerDescriptor> Descriptors =>
    [
        OneValuePerParameter<ValidateAuthorizationRequestContext>.Descriptor,
        OneValuePerParameter<ValidateTokenRequestContext>.Descriptor,
        OneValuePerParameter<ValidateIntrospectionRequestContext>.Descriptor,
        OneValuePerParameter<ValidateRevocationRequestContext>.Descriptor,
        OneValuePerParameter<ValidateEndSessionRequestContext>.Descriptor,
        OneValuePerParameter<ValidateUserInfoRequestContext>.Descriptor,
        OneClientPerRequest<ValidateTokenRequestContext>.Descriptor,
        OneClientPerRequest<ValidateIntrospectionRequestContext>.Descriptor,
        OneClientPerRequest<ValidateRevocationRequestContext>.Descriptor,
        AuthorizationParameters.Descriptor,
        BoundedLengths<ValidateAuthorizationRequestContext>.Descriptor,
        BoundedLengths<ValidateTokenRequestContext>.Descriptor,
        BoundedLengths<ValidateEndSessionRequestContext>.Descriptor,
        IntrospectionByPost.Descriptor,
        UserInfoTokenInOnePlace.Descriptor,
    ];

    /// <summary>
    /// The form of a POST, which OpenIddict has read already; null for any other request, whose body a handler must not
    /// read here (synchronously, it would hold a thread for as long as a client takes to send it).
    /// </summary>
    private static IFormCollection? FormAlreadyRead(HttpRequest http) =>
        HttpMethods.IsPost(http.Method) && http.HasFormContentType ? http.Form : null;

    /// <summary>
    /// RFC 6749 3.1 and 3.2: parameters are sent at most once. OpenIddict reads a repeated one as absent, so that
    /// <c>state</c>, <c>nonce</c>, <c>prompt</c> or <c>max_age</c> sent twice were silently dropped and the request went on
    /// without them. Only the parameters made to repeat (RFC 8707's <c>resource</c>, OpenIddict's <c>audience</c>) may.
    /// </summary>
    internal sealed class OneValuePerParameter<TContext> : IOpenIddictServerHandler<TContext> where TContext : BaseValidatingContext
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .UseSingletonHandler<OneValuePerParameter<TContext>>()
                .SetOrder(Order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(TContext context)
        {
            foreach (var (name, parameter) in context.Transaction.Request?.GetParameters() ?? new Dictionary<string, OpenIddictParameter>())
            {
                if (parameter.GetRawValue() is ImmutableArray<string> { Length: > 1 } && name is not (Parameters.Resource or Parameters.Audience))
                {
                    context.Reject(Errors.InvalidRequest, $"The '{name}' parameter was sent more than once.");
                    break;
                }
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// A client_id in the body beside HTTP Basic credentials for another client: OpenIddict kept the Basic one and
    /// dropped the other silently. The same id in both is allowed (some libraries send it); two clients are refused.
    /// </summary>
    internal sealed class OneClientPerRequest<TContext> : IOpenIddictServerHandler<TContext> where TContext : BaseValidatingContext
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .UseSingletonHandler<OneClientPerRequest<TContext>>()
                .SetOrder(Order + 2)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(TContext context)
        {
            if (context.Transaction.GetHttpRequest() is { } http
                && http.Headers.Authorization.ToString().StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)
                && FormAlreadyRead(http) is { } form && form.TryGetValue(Parameters.ClientId, out var inTheBody)
                && (inTheBody.Count > 1 || (inTheBody is [{ Length: > 0 } bodyClientId]
                    && !string.Equals(bodyClientId, context.Transaction.Request?.ClientId, StringComparison.Ordinal))))
            {
                context.Reject(Errors.InvalidRequest, "The client_id in the body is not the client of the HTTP Basic credentials.");
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// Authorization request parameters OpenIddict passes on unchecked: <c>max_age</c> must be a whole number of seconds
    /// (OpenID Connect Core 3.1.2.1; others were ignored), <c>prompt=none</c> stands alone (OpenIddict lets it join
    /// <c>create</c>, which then showed a page), and <c>request_uri</c> is not supported in any form (a pushed-request
    /// urn was answered <c>invalid_token</c>). Each sent without a value counts as omitted (RFC 6749 3.1).
    /// </summary>
    internal sealed class AuthorizationParameters : IOpenIddictServerHandler<ValidateAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
                .UseSingletonHandler<AuthorizationParameters>()
                .SetOrder(Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
        {
            var request = context.Request;
            // Digits of any length: one beyond what OpenIddict reads is a span no sign-in is older than (no limit).
            if ((string?)request.GetParameter(Parameters.MaxAge) is { Length: > 0 } maxAge && !maxAge.All(char.IsAsciiDigit))
            {
                context.Reject(Errors.InvalidRequest, "The 'max_age' parameter must be a whole number of seconds.");
            }
            else if (request.HasPromptValue(PromptValues.None) && request.GetPromptValues().Length > 1)
            {
                context.Reject(Errors.InvalidRequest, "The 'none' prompt value cannot be combined with another.");
            }
            else if (!string.IsNullOrEmpty(request.RequestUri))
            {
                context.Reject(Errors.RequestUriNotSupported, "The 'request_uri' parameter is not supported.");
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// Bounds on the parameters a request may make the server work on or carry back. Each scope name was looked up and
    /// compared with the others (thousands of them cost seconds of CPU before the client was even known), and
    /// <c>state</c> and <c>nonce</c> travel back in redirects and tokens. Duende bounds them too (scope 300, nonce 300,
    /// state 2000 characters); ours leave room for long resource-style scope names and framework-made states. An
    /// over-long state is not sent back with the error.
    /// </summary>
    internal sealed class BoundedLengths<TContext> : IOpenIddictServerHandler<TContext> where TContext : BaseValidatingContext
    {
        internal const int MaxScope = 2000;
        internal const int MaxState = 4000;
        internal const int MaxNonce = 1000;

        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .UseSingletonHandler<BoundedLengths<TContext>>()
                .SetOrder(Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(TContext context)
        {
            if (context.Transaction.Request is not { } request)
            {
                return ValueTask.CompletedTask;
            }

            if (request.State?.Length > MaxState)
            {
                request.State = null;
                context.Reject(Errors.InvalidRequest, $"The 'state' parameter is longer than {MaxState} characters.");
            }
            else if (request.Scope?.Length > MaxScope)
            {
                context.Reject(Errors.InvalidScope, $"The 'scope' parameter is longer than {MaxScope} characters.");
            }
            else if (request.Nonce?.Length > MaxNonce)
            {
                context.Reject(Errors.InvalidRequest, $"The 'nonce' parameter is longer than {MaxNonce} characters.");
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>RFC 7662 2.1: introspection is a POST; a GET put the token and the client's secret in the URL.</summary>
    internal sealed class IntrospectionByPost : IOpenIddictServerHandler<ValidateIntrospectionRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateIntrospectionRequestContext>()
                .UseSingletonHandler<IntrospectionByPost>()
                .SetOrder(Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateIntrospectionRequestContext context)
        {
            if (context.Transaction.GetHttpRequest() is { } http && !HttpMethods.IsPost(http.Method))
            {
                context.Reject(Errors.InvalidRequest, "Introspection requests are sent with POST.");
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// RFC 6750: the access token in the Authorization header or the form body, one of them (2, 3.1), never the URL
    /// (2.3 "SHOULD NOT"; RFC 9700 2.4 forbids it), as for the admin API.
    /// </summary>
    internal sealed class UserInfoTokenInOnePlace : IOpenIddictServerHandler<ValidateUserInfoRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateUserInfoRequestContext>()
                .UseSingletonHandler<UserInfoTokenInOnePlace>()
                .SetOrder(Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateUserInfoRequestContext context)
        {
            if (context.Transaction.GetHttpRequest() is not { } http)
            {
                return ValueTask.CompletedTask;
            }

            if (!StringValues.IsNullOrEmpty(http.Query[Parameters.AccessToken]))
            {
                context.Reject(Errors.InvalidRequest, "Send the access token in the Authorization header, not in the URL.");
            }
            else if (http.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                && FormAlreadyRead(http) is { } form && !StringValues.IsNullOrEmpty(form[Parameters.AccessToken]))
            {
                context.Reject(Errors.InvalidRequest, "Send the access token once: in the Authorization header or in the body.");
            }

            return ValueTask.CompletedTask;
        }
    }
}
