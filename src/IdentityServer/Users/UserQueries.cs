using System.Runtime.CompilerServices;
using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace IdentityServer.Users;

/// <summary>A user and the names of its roles, read together.</summary>
public sealed record UserWithRoles(ApplicationUser User, IReadOnlyList<string> Roles);

public static class UserQueries
{
    /// <summary>
    /// The user and its roles in one query, not tracked: every refresh and code redemption reads them, and only reads.
    /// Identity's UserManager would need two queries and track the user.
    /// </summary>
    public static Task<UserWithRoles?> FindUserWithRolesAsync(this ApplicationDbContext db, string userId, CancellationToken cancellationToken) =>
        // Compiled once per model: EF Core would otherwise walk and look up the expression at every refresh. The join is
        // UserRoleNames written out: a compiled query takes the context as a parameter and cannot call it.
        UserWithRolesById.GetValue(db.Model, _ => EF.CompileAsyncQuery(
                (ApplicationDbContext context, string id, CancellationToken cancel) => context.Users.AsNoTracking()
                    .Where(user => user.Id == id)
                    .Select(user => new UserWithRoles(user, context.UserRoles
                        .Join(context.Roles, link => link.RoleId, role => role.Id,
                            (link, role) => new UserRoleName { UserId = link.UserId, Name = role.Name! })
                        .Where(role => role.UserId == user.Id)
                        .Select(role => role.Name)
                        .ToList()))
                    .SingleOrDefault()))
            (db, userId, cancellationToken);

    /// <summary>
    /// The user alone, not tracked. Cheaper than <see cref="FindUserWithRolesAsync"/> when the roles are not needed:
    /// on SQLite every command is parsed again, and the joined query costs more to prepare than it saves.
    /// </summary>
    public static Task<ApplicationUser?> FindUserAsync(this ApplicationDbContext db, string userId, CancellationToken cancellationToken) =>
        UserById.GetValue(db.Model, _ => EF.CompileAsyncQuery(
                (ApplicationDbContext context, string id, CancellationToken cancel) => context.Users.AsNoTracking()
                    .SingleOrDefault(user => user.Id == id)))
            (db, userId, cancellationToken);

    public static Task<List<string>> RoleNamesAsync(this ApplicationDbContext db, string userId, CancellationToken cancellationToken) =>
        UserRoleNames(db).Where(role => role.UserId == userId).Select(role => role.Name).ToListAsync(cancellationToken);

    private static IQueryable<UserRoleName> UserRoleNames(ApplicationDbContext db) =>
        db.UserRoles.Join(db.Roles, link => link.RoleId, role => role.Id,
            (link, role) => new UserRoleName { UserId = link.UserId, Name = role.Name! });

    // A compiled query belongs to one model; a process normally has one, test hosts may have several.
    private static readonly ConditionalWeakTable<IModel, Func<ApplicationDbContext, string, CancellationToken, Task<UserWithRoles?>>>
        UserWithRolesById = new();

    private static readonly ConditionalWeakTable<IModel, Func<ApplicationDbContext, string, CancellationToken, Task<ApplicationUser?>>>
        UserById = new();

    // Set through an initializer, not a constructor, so that EF Core can see through it to the columns.
    private sealed record UserRoleName
    {
        public required string UserId { get; init; }

        public required string Name { get; init; }
    }
}
