using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;

namespace IdentityServer.Users;

/// <summary>A user and the names of its roles, read together.</summary>
public sealed record UserWithRoles(ApplicationUser User, List<string> Roles);

public static class UserQueries
{
    /// <summary>
    /// The user and its roles in one query, not tracked: for the paths every refresh and userinfo call takes, which
    /// only read the user. Identity's UserManager would need two queries and track the user.
    /// </summary>
    public static Task<UserWithRoles?> FindUserWithRolesAsync(this ApplicationDbContext db, string userId, CancellationToken cancellationToken) =>
        db.Users.AsNoTracking()
            .Where(user => user.Id == userId)
            .Select(user => new UserWithRoles(
                user,
                db.UserRoles.Where(link => link.UserId == user.Id)
                    .Join(db.Roles, link => link.RoleId, role => role.Id, (link, role) => role.Name!)
                    .ToList()))
            .SingleOrDefaultAsync(cancellationToken);
}
