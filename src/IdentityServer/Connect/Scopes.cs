using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>The scopes the server always knows, and how each is put to a person on the consent page.</summary>
public static class StandardScopes
{
    public const string Admin = "admin";
    public const string AdminResource = "identityserver-admin";

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
