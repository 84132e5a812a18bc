using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// OpenIddict writes an issuer that is only an origin with a trailing slash (<c>http://127.0.0.1:5000/</c>): .NET's Uri
/// always gives an empty path as "/". The contract's default issuer is the request's own origin, which has none, and
/// Keycloak and Duende publish none; libraries that compare the issuer as a string (go-oidc, Spring Security, jose's
/// <c>jwtVerify({ issuer })</c>) refused every token when configured with the origin. So the issuer goes out without
/// it: in discovery, in every token's <c>iss</c>, in the <c>iss</c> authorization response parameter and in the
/// introspection and userinfo answers. OpenIddict accepts both spellings in the tokens it validates, so tokens issued
/// before keep working. An issuer with a path is left exactly as configured.
/// </summary>
internal static class IssuerAsAnOrigin
{
    public static IEnumerable<OpenIddictServerHandlerDescriptor> Descriptors =>
    [
        InTokens.Descriptor,
        InResponse<ApplyConfigurationResponseContext>.Descriptor("issuer", int.MinValue + 100_000),
        InResponse<ApplyAuthorizationResponseContext>.Descriptor(
            Parameters.Iss, OpenIddictServerHandlers.Authentication.AttachIssuer.Descriptor.Order + 500),
        InResponse<ApplyIntrospectionResponseContext>.Descriptor(Claims.Issuer, int.MinValue + 100_000),
        InResponse<ApplyUserInfoResponseContext>.Descriptor(Claims.Issuer, int.MinValue + 100_000),
    ];

    /// <summary><c>scheme://host[:port]/</c> becomes <c>scheme://host[:port]</c>; anything else is returned unchanged.</summary>
    public static string? Spelled(string? issuer) =>
        issuer is { Length: > 1 } && issuer[^1] == '/'
            && Uri.TryCreate(issuer, UriKind.Absolute, out var uri) && uri.AbsolutePath == "/" && uri.Query.Length == 0
            ? issuer[..^1]
            : issuer;

    private sealed class InTokens : IOpenIddictServerHandler<GenerateTokenContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<GenerateTokenContext>()
                .UseSingletonHandler<InTokens>()
                // After OpenIddict has put the issuer into the token's descriptor, before the token is written.
                .SetOrder(OpenIddictServerHandlers.Protection.AttachTokenMetadata.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(GenerateTokenContext context)
        {
            context.SecurityTokenDescriptor.Issuer = Spelled(context.SecurityTokenDescriptor.Issuer);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class InResponse<TContext>(string parameter) : IOpenIddictServerHandler<TContext>
        where TContext : BaseRequestContext
    {
        public static OpenIddictServerHandlerDescriptor Descriptor(string parameter, int order) =>
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .UseSingletonHandler(new InResponse<TContext>(parameter))
                .SetOrder(order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(TContext context)
        {
            var response = context.Transaction.Response;
            if (response is not null && (string?)response[parameter] is { } issuer)
            {
                response[parameter] = Spelled(issuer);
            }

            return ValueTask.CompletedTask;
        }
    }
}
