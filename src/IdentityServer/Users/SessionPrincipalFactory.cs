using System.Security.Claims;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace IdentityServer.Users;

/// <summary>
/// The principal in the sign-in cookie: who signed in and the security stamp, built without a database query.
/// Identity's default factory also reads the user's claims, its roles and then, role by role, the role and its claims:
/// an N+1 at every sign-in and every cookie refresh, for claims nothing reads from the cookie. Tokens take roles and
/// profile claims from the database when they are issued (<c>Connect/UserPrincipalFactory</c>).
/// </summary>
public sealed class SessionPrincipalFactory(UserManager<ApplicationUser> users, IOptions<IdentityOptions> options)
    : UserClaimsPrincipalFactory<ApplicationUser>(users, options)
{
    protected override Task<ClaimsIdentity> GenerateClaimsAsync(ApplicationUser user)
    {
        var types = Options.ClaimsIdentity;
        var identity = new ClaimsIdentity(IdentityConstants.ApplicationScheme, types.UserNameClaimType, types.RoleClaimType);
        identity.AddClaim(new Claim(types.UserIdClaimType, user.Id));
        AddIfPresent(identity, types.UserNameClaimType, user.UserName);
        AddIfPresent(identity, types.EmailClaimType, user.Email);
        // The stamp lets the security stamp validator end this session once the password changes.
        AddIfPresent(identity, types.SecurityStampClaimType, user.SecurityStamp);
        return Task.FromResult(identity);
    }

    private static void AddIfPresent(ClaimsIdentity identity, string type, string? value)
    {
        if (value is not null)
        {
            identity.AddClaim(new Claim(type, value));
        }
    }
}
