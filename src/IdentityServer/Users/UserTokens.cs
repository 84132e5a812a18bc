using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using OpenIddict.EntityFrameworkCore.Models;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Users;

/// <summary>Ends every token issued to a user, so that a redemption already under way cannot bring one back.</summary>
internal static class UserTokens
{
    /// <remarks>
    /// OpenIddict's RevokeBySubjectAsync sets only the status. A refresh that read its token (and the user, still
    /// enabled) before that and saves after it marks the token redeemed with an UPDATE conditioned on the
    /// ConcurrencyToken it read, which the revocation left as it was: it would overwrite "revoked" and write new valid
    /// tokens for a disabled or deleted user. A new ConcurrencyToken makes that refresh lose, with invalid_grant.
    /// </remarks>
    public static Task<int> RevokeAllAsync(ApplicationDbContext db, string userId, CancellationToken cancellationToken)
    {
        var concurrencyToken = Guid.NewGuid().ToString();
        return db.Set<OpenIddictEntityFrameworkCoreToken>()
            .Where(token => token.Subject == userId)
            .ExecuteUpdateAsync(token => token
                .SetProperty(t => t.Status, Statuses.Revoked)
                .SetProperty(t => t.ConcurrencyToken, concurrencyToken), cancellationToken);
    }
}
