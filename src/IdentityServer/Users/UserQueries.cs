using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;

namespace IdentityServer.Users;

/// <summary>A user and the names of its roles, read together.</summary>
public sealed record UserWithRoles(ApplicationUser User, List<string> Roles);

public static class UserQueries
{
    /// <summary>
    /// The user and its roles in one query, not tracked: every refresh and code redemption reads them, and only reads.
    /// Identity's UserManager would need two queries and track the user.
    /// </summary>
    public static Task<UserWithRoles?> FindUserWithRolesAsync(this ApplicationDbContext db, string userId, CancellationToken cancellationToken) =>
        db.Users.AsNoTracking()
            .Where(user => user.Id == userId)
            // Written out, not through RoleNames: EF Core would run a method call in a projection as a second query.
            .Select(user => new UserWithRoles(
                user,
                db.UserRoles.Where(link => link.UserId == user.Id)
                    .Join(db.Roles, link => link.RoleId, role => role.Id, (link, role) => role.Name!)
                    .ToList()))
            .SingleOrDefaultAsync(cancellationToken);

    /// <summary>
    /// The user alone, not tracked. Cheaper than <see cref="FindUserWithRolesAsync"/> when the roles are not needed:
    /// on SQLite every command is parsed again, and the joined query costs more to prepare than it saves.
    /// </summary>
    public static Task<ApplicationUser?> FindUserAsync(this ApplicationDbContext db, string userId, CancellationToken cancellationToken) =>
        db.Users.AsNoTracking().SingleOrDefaultAsync(user => user.Id == userId, cancellationToken);

    public static Task<List<string>> RoleNamesAsync(this ApplicationDbContext db, string userId, CancellationToken cancellationToken) =>
        RoleNames(db, userId).ToListAsync(cancellationToken);

    private static IQueryable<string> RoleNames(ApplicationDbContext db, string userId) =>
        db.UserRoles.Where(link => link.UserId == userId)
            .Join(db.Roles, link => link.RoleId, role => role.Id, (link, role) => role.Name!);
}
