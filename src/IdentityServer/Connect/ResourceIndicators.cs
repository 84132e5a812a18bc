using System.Collections.Immutable;
using System.Security.Claims;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;
using Authentication = OpenIddict.Server.OpenIddictServerHandlers.Authentication;
using Exchange = OpenIddict.Server.OpenIddictServerHandlers.Exchange;

namespace IdentityServer.Connect;

/// <summary>
/// RFC 8707 resource indicators, as Duende reads them: a <c>resource</c> picks the audiences of a token among those its
/// scopes give (a scope's <c>resources</c>), and any other is <c>invalid_target</c>. Sent with the authorization
/// request, it narrows the whole grant (its code and refresh tokens); sent with a token request, that access token.
/// MCP clients send it with both. OpenIddict would accept only resources registered in its options.
/// </summary>
internal static class ResourceIndicators
{
    /// <summary>The resources the authorization request named, kept in the code and refresh tokens (no destination).</summary>
    public const string GrantResourceClaim = "grant_resource";

    public const string NotAnAudience = "The 'resource' is not an audience of the requested scopes.";

    public static void Register(OpenIddictServerBuilder server)
    {
        // A client may name a resource of any scope it may ask for: scope permissions already decide.
        server.IgnoreResourcePermissions();
        server.RemoveEventHandler(Authentication.ValidateResources.Descriptor);
        server.RemoveEventHandler(Exchange.ValidateResources.Descriptor);
        server.AddEventHandler(OfTheRequestedScopes.Descriptor);
        server.AddEventHandler(ScopesOfTheAudiences.Descriptor);
    }

    /// <summary>
    /// Narrows a token's audiences (already those of its scopes) to the resources the token request names. False when
    /// one is not among them.
    /// </summary>
    public static bool TryNarrow(ClaimsIdentity identity, OpenIddictRequest request)
    {
        var requested = request.GetResources();
        if (requested.IsEmpty)
        {
            return true;
        }

        if (!AllAmong(requested, identity.GetResources()))
        {
            return false;
        }

        identity.SetResources(requested);
        return true;
    }

    private static bool AllAmong(IEnumerable<string> requested, IEnumerable<string> available) =>
        requested.All(resource => available.Contains(resource, StringComparer.Ordinal));

    /// <summary>The audiences of a code or refresh token's access token: those of its scopes, within what the grant named.</summary>
    public static ImmutableArray<string> WithinTheGrant(ClaimsIdentity identity, IReadOnlyCollection<string> ofTheScopes)
    {
        var named = identity.FindAll(GrantResourceClaim).Select(claim => claim.Value).ToHashSet(StringComparer.Ordinal);
        if (named.Count == 0)
        {
            return [.. ofTheScopes];
        }

        var within = ofTheScopes.Where(named.Contains).ToImmutableArray();
        return within.IsEmpty ? [StandardScopes.DefaultResource] : within;
    }

    /// <summary>Names an authorization request's resources in the grant and narrows its audiences to them.</summary>
    public static void NameInTheGrant(ClaimsIdentity identity, OpenIddictRequest request)
    {
        var requested = request.GetResources();
        if (requested.IsEmpty)
        {
            return;
        }

        identity.SetResources(requested);
        foreach (var resource in requested)
        {
            identity.AddClaim(new Claim(GrantResourceClaim, resource));
        }
    }

    /// <summary>
    /// An access token narrowed to some resources names only their scopes (and the user scopes, which have no
    /// resource), as in Duende's resource isolation: an API that reads <c>scope</c> alone is not told of another API's
    /// permissions. The refresh token keeps every scope of the grant.
    /// </summary>
    internal sealed class ScopesOfTheAudiences(IOpenIddictScopeManager scopes) : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .AddFilter<OpenIddictServerHandlerFilters.RequireAccessTokenGenerated>()
                .UseScopedHandler<ScopesOfTheAudiences>()
                .SetOrder(OpenIddictServerHandlers.PrepareAccessTokenPrincipal.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessSignInContext context)
        {
            // Only a token some resource narrowed: the others carry the audiences of all their scopes already.
            if (context.AccessTokenPrincipal is not { } accessToken
                || (context.Request.GetResources().IsEmpty && context.Principal?.HasClaim(claim => claim.Type == GrantResourceClaim) != true))
            {
                return;
            }

            var audiences = context.Principal!.GetResources();
            var kept = new List<string>();
            foreach (var scope in accessToken.GetScopes())
            {
                var resources = await scopes.ListResourcesAsync([scope], context.CancellationToken).ToListAsync(context.CancellationToken);
                if (resources.Count == 0 || resources.Any(audiences.Contains))
                {
                    kept.Add(scope);
                }
            }

            accessToken.SetScopes(kept);
        }
    }

    /// <summary>An authorization request's resources must be audiences of its scopes; refused before anyone signs in.</summary>
    internal sealed class OfTheRequestedScopes(IOpenIddictScopeManager scopes) : IOpenIddictServerHandler<ValidateAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
                .UseScopedHandler<OfTheRequestedScopes>()
                .SetOrder(Authentication.ValidateResources.Descriptor.Order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
        {
            var requested = context.Request.GetResources();
            if (requested.IsEmpty)
            {
                return;
            }

            if (!AllAmong(requested, await StandardScopes.ResourcesAsync(scopes, context.Request.GetScopes(), context.CancellationToken)))
            {
                context.Reject(Errors.InvalidTarget, NotAnAudience);
            }
        }
    }
}
