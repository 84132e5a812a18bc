using Microsoft.Extensions.Options;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// OpenIddict writes an issuer that is only an origin with a trailing slash (<c>http://127.0.0.1:5000/</c>): .NET's Uri
/// always gives an empty path as "/". The contract's default issuer is the request's own origin, which has none, and a
/// configured issuer is the operator's exact string; libraries compare <c>iss</c> as a string (Microsoft.IdentityModel,
/// go-oidc, Spring Security, jose's <c>jwtVerify({ issuer })</c>). So the issuer goes out as the origin, or as
/// <c>IdentityServer:Issuer</c> is written (with or without its trailing slash): in discovery, in every token's
/// <c>iss</c>, in the <c>iss</c> authorization response parameter and in introspection answers. OpenIddict accepts both
/// spellings in the tokens it validates (refresh tokens, codes, id_token_hint, the admin API's bearer tokens).
/// </summary>
public sealed class IssuerAsAnOrigin(IOptions<ConnectOptions> options)
{
    public static IEnumerable<OpenIddictServerHandlerDescriptor> Descriptors =>
    [
        InTokens.Descriptor,
        InResponse<ApplyConfigurationResponseContext>.Descriptor(Metadata.Issuer, int.MinValue + 100_000),
        InResponse<ApplyAuthorizationResponseContext>.Descriptor(
            Parameters.Iss, OpenIddictServerHandlers.Authentication.AttachIssuer.Descriptor.Order + 500),
        InResponse<ApplyIntrospectionResponseContext>.Descriptor(Claims.Issuer, int.MinValue + 100_000),
    ];

    /// <summary>
    /// OpenIddict's issuer as published. One taken from the request (<c>scheme://host[:port]/</c>, with a path when a
    /// trusted proxy forwarded one) loses its trailing slash; a configured one is as written: OpenIddict adds a slash
    /// only to an origin, so that one loses it unless the operator wrote it.
    /// </summary>
    public string? Published(string? issuer)
    {
        if (issuer is not { Length: > 1 } || issuer[^1] != '/')
        {
            return issuer;
        }

        var configured = options.Value.Issuer;
        return configured is null || (configured.AbsolutePath == "/" && !configured.OriginalString.EndsWith('/'))
            ? issuer[..^1]
            : issuer;
    }

    /// <summary>The <c>iss</c> of the tokens issued to an OpenIddict request now being handled, as published.</summary>
    public string OfRequest(HttpContext http)
    {
        var transaction = http.Features.Get<OpenIddict.Server.AspNetCore.OpenIddictServerAspNetCoreFeature>()?.Transaction
            ?? throw new InvalidOperationException("The OpenIddict server transaction cannot be retrieved.");
        // As OpenIddict names the issuer in each token it generates.
        var issuer = transaction.Options.Issuer ?? transaction.BaseUri
            ?? throw new InvalidOperationException("The request has no base address.");
        return Published(issuer.AbsoluteUri)!;
    }

    private sealed class InTokens(IssuerAsAnOrigin issuer) : IOpenIddictServerHandler<GenerateTokenContext>
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
            context.SecurityTokenDescriptor.Issuer = issuer.Published(context.SecurityTokenDescriptor.Issuer);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class InResponse<TContext>(IssuerAsAnOrigin issuer, string parameter) : IOpenIddictServerHandler<TContext>
        where TContext : BaseRequestContext
    {
        public static OpenIddictServerHandlerDescriptor Descriptor(string parameter, int order) =>
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .UseSingletonHandler(services => new InResponse<TContext>(services.GetRequiredService<IssuerAsAnOrigin>(), parameter))
                .SetOrder(order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(TContext context)
        {
            if (context.Transaction.Response is { } response && (string?)response[parameter] is { } published)
            {
                response[parameter] = issuer.Published(published);
            }

            return ValueTask.CompletedTask;
        }
    }
}
