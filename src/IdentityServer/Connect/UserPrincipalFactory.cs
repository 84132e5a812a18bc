using System.Collections.Immutable;
using System.Security.Claims;
using IdentityServer.Persistence;
using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>
/// Builds the claims a user's tokens carry. The same code runs at the authorization endpoint, the password grant
/// and every code or refresh-token redemption, so a token always reflects the user as stored now.
/// </summary>
public sealed partial class UserPrincipalFactory(
    ApplicationDbContext db,
    IOpenIddictScopeManager scopeManager,
    ILogger<UserPrincipalFactory> logger)
{
    /// <summary>Kept in codes and refresh tokens only (no destination), to notice a password change at redemption.</summary>
    public const string SecurityStampClaim = "ids_stamp";

    public async Task<ClaimsIdentity> CreateAsync(
        ApplicationUser user,
        IEnumerable<string> requestedScopes,
        DateTimeOffset authTime,
        CancellationToken cancellationToken,
        string? browserSessionId = null)
    {
        var identity = new ClaimsIdentity(
            authenticationType: TokenValidationParameters.DefaultAuthenticationType,
            nameType: Claims.Name,
            roleType: Claims.Role);

        var roles = await db.RoleNamesAsync(user.Id, cancellationToken);
        identity.SetScopes(FilterScopes(requestedScopes, roles));
        identity.SetResources(await StandardScopes.ResourcesAsync(scopeManager, identity.GetScopes(), cancellationToken));
        identity.SetClaim(Claims.AuthenticationTime, authTime.ToUnixTimeSeconds());
        identity.SetClaim(BrowserSessions.SessionIdClaim, browserSessionId);
        RefreshUserClaims(identity, user, roles);
        return identity;
    }

    /// <summary>Replaces the user's claims in an identity taken from a code or refresh token.</summary>
    public static void RefreshUserClaims(ClaimsIdentity identity, ApplicationUser user, IReadOnlyList<string> roles)
    {
        identity.SetClaim(Claims.Subject, user.Id)
            .SetClaim(Claims.Name, user.UserName)
            .SetClaim(Claims.PreferredUsername, user.UserName)
            .SetClaim(Claims.Email, user.Email)
            .SetClaim(Claims.EmailVerified, user.Email is null ? null : user.EmailConfirmed)
            .SetClaims(Claims.Role, [.. roles])
            .SetClaim(SecurityStampClaim, user.SecurityStamp);

        // A user who lost the admin role keeps no admin scope on refresh.
        identity.SetScopes(FilterScopes(identity.GetScopes(), roles));
        SetDestinations(identity, identity.GetScopes());
    }

    /// <summary>
    /// Which of the user's claims go into the access and ID tokens of this answer, by the scopes they carry: a refresh
    /// that asks for fewer scopes than its grant holds leaves out what only the others allowed (email without email).
    /// </summary>
    public static void SetDestinations(ClaimsIdentity identity, ImmutableArray<string> scopesOfTheseTokens) =>
        identity.SetDestinations(claim => GetDestinations(claim, scopesOfTheseTokens));

    /// <summary>
    /// Whether a user named in a code or refresh token may still receive tokens: the account exists, is enabled and
    /// its password has not changed since the token was issued. A lockout is not checked: it guards the password
    /// against guessing, and anyone can trigger it, so it must not cut a user off from apps already signed in (the
    /// authorization endpoint does not check it for a signed-in browser either). Every refresh comes through here, so
    /// the user and its roles are read in one query.
    /// </summary>
    public async Task<UserWithRoles?> FindActiveUserAsync(
        ClaimsPrincipal principal, SignInManager<ApplicationUser> signIn, CancellationToken cancellationToken)
    {
        var subject = principal.GetClaim(Claims.Subject);
        var found = string.IsNullOrEmpty(subject) ? null : await db.FindUserWithRolesAsync(subject, cancellationToken);
        if (found is null)
        {
            LogRefused(logger, subject, "the user no longer exists");
            return null;
        }

        var user = found.User;
        if (!await signIn.CanSignInAsync(user))
        {
            LogRefused(logger, subject, "the user is disabled");
            return null;
        }

        var stamp = principal.GetClaim(SecurityStampClaim);
        if (stamp is null || !string.Equals(stamp, user.SecurityStamp, StringComparison.Ordinal))
        {
            LogRefused(logger, subject, "the user's password or security stamp changed");
            return null;
        }

        return found;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused tokens for user {Subject}: {Reason}.")]
    private static partial void LogRefused(ILogger logger, string? subject, string reason);

    public const string NoRequestedScopeGrantable = "None of the requested scopes may be granted to this user.";

    /// <summary>
    /// A request whose every scope was taken away (only <c>admin</c>, by a user without that role) would get a token
    /// with no scope, and an answer without <c>scope</c>, which RFC 6749 (5.1) lets the client read as "all granted".
    /// It is refused with invalid_scope instead; a request that keeps some of its scopes gets them, named in the answer.
    /// </summary>
    public static bool GrantsNoneRequested(ClaimsIdentity identity, IEnumerable<string> requestedScopes) =>
        requestedScopes.Any() && identity.GetScopes().IsEmpty;

    private static ImmutableArray<string> FilterScopes(IEnumerable<string> scopes, IEnumerable<string> roles) =>
        roles.Contains(ApplicationUser.AdminRole, StringComparer.OrdinalIgnoreCase)
            ? [.. scopes]
            : [.. scopes.Where(scope => scope != StandardScopes.Admin)];

    private static IEnumerable<string> GetDestinations(Claim claim, ImmutableArray<string> scopes)
    {
        // Access tokens carry the user's claims so resource APIs need no call back; ID tokens only what was consented to.
        switch (claim.Type)
        {
            case Claims.Name or Claims.PreferredUsername:
                yield return Destinations.AccessToken;
                if (scopes.Contains(Scopes.Profile))
                {
                    yield return Destinations.IdentityToken;
                }

                yield break;

            case Claims.Email or Claims.EmailVerified:
                if (scopes.Contains(Scopes.Email))
                {
                    yield return Destinations.AccessToken;
                    yield return Destinations.IdentityToken;
                }

                yield break;

            case Claims.Role:
                yield return Destinations.AccessToken;
                if (scopes.Contains(Scopes.Roles))
                {
                    yield return Destinations.IdentityToken;
                }

                yield break;

            // The browser session (Back-Channel Logout 1.0, 2.1): an app matches a logout token's sid to it.
            case Claims.AuthenticationTime or BrowserSessions.SessionIdClaim:
                yield return Destinations.IdentityToken;
                yield break;

            // The security stamp and anything else unknown stay inside codes and refresh tokens.
            default:
                yield break;
        }
    }
}
