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

    /// <summary>
    /// RFC 6749 3.3: what a user's request without a scope parameter (a password grant, a device) is given, rather than
    /// a token that names none: every scope the client may use (as Duende), but admin only when asked for, as it opens
    /// the admin API.
    /// </summary>
    public static async Task<List<string>> UserDefaultsAsync(
        OpenIddict.Abstractions.IOpenIddictApplicationManager applications, object application, CancellationToken cancellationToken)
    {
        List<string> scopes = [.. (await ListedAsync(applications, application, cancellationToken)).Where(scope => scope != Admin)];
        foreach (var scope in Registered)
        {
            if (await IsPermittedAsync(applications, application, scope, cancellationToken))
            {
                scopes.Add(scope);
            }
        }

        return scopes;
    }

    /// <summary>The scopes listed for the client (its scope permissions), the built-in OpenID Connect ones aside.</summary>
    public static async Task<IEnumerable<string>> ListedAsync(
        OpenIddict.Abstractions.IOpenIddictApplicationManager applications, object application, CancellationToken cancellationToken) =>
        (await applications.GetPermissionsAsync(application, cancellationToken))
            .Where(permission => permission.StartsWith(Permissions.Prefixes.Scope, StringComparison.Ordinal))
            .Select(permission => permission[Permissions.Prefixes.Scope.Length..])
            .Where(scope => !Registered.Contains(scope));

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
