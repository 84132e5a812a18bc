using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>The scopes the server always knows, and how each is put to a person on the consent page.</summary>
public static class StandardScopes
{
    public const string Admin = "admin";
    public const string AdminResource = "identityserver-admin";

    /// <summary>
    /// The audience of access tokens whose scopes name no resource (openid, profile...): RFC 9068 requires an
    /// <c>aud</c>, and such tokens are only good at this server (userinfo).
    /// </summary>
    public const string DefaultResource = "identityserver";

    /// <summary>The resources (audiences) for a set of granted scopes, never empty.</summary>
    public static async Task<List<string>> ResourcesAsync(
        OpenIddict.Abstractions.IOpenIddictScopeManager scopes, System.Collections.Immutable.ImmutableArray<string> granted, CancellationToken cancellationToken)
    {
        var resources = await scopes.ListResourcesAsync(granted, cancellationToken).ToListAsync(cancellationToken);
        return resources.Count > 0 ? resources : [DefaultResource];
    }

    /// <summary>
    /// Whether a client may ask for a scope: openid needs no permission (OpenIddict's rule, and Keycloak's), offline_access
    /// the refresh_token grant it is for, every other scope its own permission.
    /// </summary>
    public static async ValueTask<bool> IsPermittedAsync(
        OpenIddict.Abstractions.IOpenIddictApplicationManager applications, object application, string scope, CancellationToken cancellationToken) =>
        scope switch
        {
            Scopes.OpenId => true,
            Scopes.OfflineAccess => await applications.HasPermissionAsync(application, Permissions.GrantTypes.RefreshToken, cancellationToken),
            _ => await applications.HasPermissionAsync(application, Permissions.Prefixes.Scope + scope, cancellationToken),
        };

    public static readonly IReadOnlyList<string> Registered =
        [Scopes.OpenId, Scopes.Profile, Scopes.Email, Scopes.Roles, Scopes.OfflineAccess];

    public static readonly IReadOnlyDictionary<string, string> Descriptions = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [Scopes.OpenId] = "Sign you in with your account",
        [Scopes.Profile] = "See your username",
        [Scopes.Email] = "See your email address",
        [Scopes.Roles] = "See your roles",
        [Scopes.OfflineAccess] = "Stay connected when you are not using it (refresh tokens)",
    };
}
