using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;

namespace IdentityServer.Users;

/// <summary>A user and the names of its roles, read together.</summary>
public sealed record UserWithRoles(ApplicationUser User, IReadOnlyList<string> Roles);

public static class UserQueries
{
    /// <summary>
    /// The user and its roles in one query, not tracked: every refresh and code redemption reads them, and only reads.
    /// Identity's UserManager would need two queries and track the user.
    /// </summary>
    public static Task<UserWithRoles?> FindUserWithRolesAsync(this ApplicationDbContext db, string userId, CancellationToken cancellationToken)
    {
        // A query in a local is inlined into the projection; a method call there would run as a second query.
        var roleNames = UserRoleNames(db);
        return db.Users.AsNoTracking()
            .Where(user => user.Id == userId)
            .Select(user => new UserWithRoles(user, roleNames.Where(role => role.UserId == user.Id).Select(role => role.Name).ToList()))
            .SingleOrDefaultAsync(cancellationToken);
    }

    /// <summary>
    /// The user alone, not tracked. Cheaper than <see cref="FindUserWithRolesAsync"/> when the roles are not needed:
    /// on SQLite every command is parsed again, and the joined query costs more to prepare than it saves.
    /// </summary>
    public static Task<ApplicationUser?> FindUserAsync(this ApplicationDbContext db, string userId, CancellationToken cancellationToken) =>
        db.Users.AsNoTracking().SingleOrDefaultAsync(user => user.Id == userId, cancellationToken);

    public static Task<List<string>> RoleNamesAsync(this ApplicationDbContext db, string userId, CancellationToken cancellationToken) =>
        UserRoleNames(db).Where(role => role.UserId == userId).Select(role => role.Name).ToListAsync(cancellationToken);

    private static IQueryable<UserRoleName> UserRoleNames(ApplicationDbContext db) =>
        db.UserRoles.Join(db.Roles, link => link.RoleId, role => role.Id,
            (link, role) => new UserRoleName { UserId = link.UserId, Name = role.Name! });

    // Set through an initializer, not a constructor, so that EF Core can see through it to the columns.
    private sealed record UserRoleName
    {
        public required string UserId { get; init; }

        public required string Name { get; init; }
    }
}
