using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using IdentityServer.Connect;
using IdentityServer.Persistence;
using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Admin;

public sealed record UserRequest(string? Username, string? Email, string? Password, IReadOnlyList<string>? Roles, bool? Enabled);

/// <param name="LockedOutUntil">Set while too many wrong passwords keep the account locked (Lockout:*); PUT with
/// <c>enabled: true</c> or a password reset lifts the lock, as enabling does in Keycloak's console.</param>
public sealed record UserResponse(
    string Id, string Username, string? Email, IReadOnlyList<string> Roles, bool Enabled, DateTimeOffset CreatedAt, DateTimeOffset? LockedOutUntil);

public sealed record UserPage(IReadOnlyList<UserResponse> Items, int Page, int PageSize, int Total);

public sealed record PasswordResetRequest(string? Password);

internal static class UsersEndpoints
{
    // Every role travels in each of the user's tokens.
    private const int MaxRoles = 50;

    public static RouteGroupBuilder MapUsersEndpoints(this RouteGroupBuilder admin)
    {
        var users = admin.MapGroup("/users").WithTags("Users");
        users.MapPost("/", CreateAsync).WithName("CreateUser")
            .Produces<UserResponse>(StatusCodes.Status201Created).ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict);
        users.MapGet("/", ListAsync).WithName("ListUsers").Produces<UserPage>().ProducesValidationProblem();
        users.MapGet("/{id}", GetAsync).WithName("GetUser")
            .Produces<UserResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        users.MapPut("/{id}", UpdateAsync).WithName("UpdateUser")
            .Produces<UserResponse>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        users.MapDelete("/{id}", DeleteAsync).WithName("DeleteUser")
            .Produces(StatusCodes.Status204NoContent).ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        users.MapPost("/{id}/password", ResetPasswordAsync).WithName("ResetUserPassword")
            .Produces(StatusCodes.Status204NoContent).ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        users.MapPost("/{id}/logout", LogOutEverywhereAsync).WithName("LogOutUser")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        users.MapUserConsents();
        return admin;
    }

    private static async Task<IResult> CreateAsync(
        UserRequest request, ApplicationUserManager users, RoleManager<IdentityRole> roles, ApplicationDbContext db,
        TimeProvider time, AuditTrail audit, ClaimsPrincipal actor, HttpContext http, CancellationToken cancellationToken)
    {
        var errors = ValidateProfile(request);
        if (string.IsNullOrEmpty(request.Password))
        {
            errors.Add("password", "A password is required.");
        }
        else
        {
            // Checked here too, so that one answer names every field to fix (Identity checks it again when creating).
            foreach (var problem in await users.ProblemsAsync(request.Username?.Trim(), request.Password))
            {
                errors.Add("password", problem);
            }
        }

        if (errors.Any)
        {
            return errors.ToProblem();
        }

        if (await users.FindByNameAsync(request.Username!) is not null)
        {
            return AdminProblems.Conflict($"A user named '{request.Username}' already exists.");
        }

        var user = new ApplicationUser
        {
            UserName = request.Username!.Trim(),
            Email = string.IsNullOrWhiteSpace(request.Email) ? null : request.Email.Trim(),
            Enabled = request.Enabled ?? true,
            CreatedAt = time.GetUtcNow(),
        };

        // BCrypt before the transaction, which on SQLite holds the only write lock for as long as it lasts.
        if (await users.SetInitialPasswordAsync(user, request.Password!) is { Succeeded: false } weak)
        {
            return IdentityProblem(weak);
        }

        await EnsureRolesExistAsync(roles, db, request.Roles, cancellationToken);
        // SQL Server's retrying execution strategy refuses a transaction begun outside it: the unit is retried whole.
        var refused = await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var created = await users.CreateAsync(user);
            if (!created.Succeeded)
            {
                return IdentityProblem(created);
            }

            await SetRolesAsync(users, user, request.Roles);
            await transaction.CommitAsync(cancellationToken);
            return null;
        });
        if (refused is not null)
        {
            return refused;
        }

        await audit.RecordAsync(actor, "user.created", user.Id, new { user.UserName, user.Email, request.Roles, user.Enabled });

        var response = await ToResponseAsync(users, user, time);
        return TypedResults.Created($"{http.Request.PathBase}/admin/users/{user.Id}", response);
    }

    // page and pageSize arrive as text: bound as int?, "page=" (the documented empty form) and "page=abc" would be a
    // bare 400 from the binder, with no errors object naming the parameter.
    private static async Task<IResult> ListAsync(
        ApplicationDbContext db, TimeProvider time, string? search, string? page, string? pageSize, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors();
        var (number, size) = Paging.Parse(errors, page, pageSize);
        if (errors.Any)
        {
            return errors.ToProblem();
        }

        var query = db.Users.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var normalized = search.Trim().ToUpperInvariant();
            query = query.Where(u => u.NormalizedUserName!.Contains(normalized) || u.NormalizedEmail!.Contains(normalized));
        }

        var total = await query.CountAsync(cancellationToken);
        var pageOfUsers = await query
            .OrderBy(u => u.NormalizedUserName)
            .Skip((number - 1) * size)
            .Take(size)
            .ToListAsync(cancellationToken);

        // One query for every role on the page, not one per user.
        var ids = pageOfUsers.Select(u => u.Id).ToList();
        var rolesByUser = (await (
                from userRole in db.UserRoles
                join role in db.Roles on userRole.RoleId equals role.Id
                where ids.Contains(userRole.UserId)
                select new { userRole.UserId, role.Name })
            .ToListAsync(cancellationToken))
            .ToLookup(r => r.UserId, r => r.Name!);

        var items = pageOfUsers
            .Select(u => ToResponse(u, [.. rolesByUser[u.Id].Order(StringComparer.Ordinal)], time))
            .ToList();
        return TypedResults.Ok(new UserPage(items, number, size, total));
    }

    private static async Task<IResult> GetAsync(string id, UserManager<ApplicationUser> users, TimeProvider time) =>
        await users.FindByIdAsync(id) is { } user
            ? TypedResults.Ok(await ToResponseAsync(users, user, time))
            : AdminProblems.NotFound("User", id);

    private static async Task<IResult> UpdateAsync(
        string id, UserRequest request, UserManager<ApplicationUser> users, RoleManager<IdentityRole> roles, ApplicationDbContext db,
        IOpenIddictTokenManager tokens, BackChannelLogout backChannelLogout, TimeProvider time, AuditTrail audit, ClaimsPrincipal actor,
        CancellationToken cancellationToken)
    {
        var user = await users.FindByIdAsync(id);
        if (user is null)
        {
            return AdminProblems.NotFound("User", id);
        }

        // PUT changes what it names: an omitted (null) field keeps its current value, as in Keycloak's admin API. Only
        // the email and roles sent are checked (the stored username always met today's rule), so a value an earlier
        // version stored and a later rule refuses (an email with a display name) does not stop an admin disabling the
        // account. Roles are replaced as a whole: a list sent must meet the rule in full.
        var errors = ValidateProfile(request with { Username = request.Username ?? user.UserName });
        request = request with
        {
            Username = request.Username ?? user.UserName,
            Email = request.Email ?? user.Email,
            Roles = request.Roles ?? [.. await users.GetRolesAsync(user)],
        };

        if (request.Password is not null)
        {
            errors.Add("password", "Passwords are changed with POST /admin/users/{id}/password.");
        }

        if (errors.Any)
        {
            return errors.ToProblem();
        }

        if (await users.FindByNameAsync(request.Username!) is { } other && other.Id != user.Id)
        {
            return AdminProblems.Conflict($"A user named '{request.Username}' already exists.");
        }

        await EnsureRolesExistAsync(roles, db, request.Roles, cancellationToken);
        var removedAdmin = false;
        // As in CreateAsync: one retriable unit for SQL Server's execution strategy.
        var refused = await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            user.UserName = request.Username!.Trim();
            var email = string.IsNullOrWhiteSpace(request.Email) ? null : request.Email.Trim();
            // A corrected spelling (case) is kept; only another address needs confirming again.
            if (!string.Equals(user.Email, email, StringComparison.OrdinalIgnoreCase))
            {
                user.EmailConfirmed = false;
            }

            user.Email = email;

            user.Enabled = request.Enabled ?? user.Enabled;
            if (request.Enabled == true)
            {
                LiftLockout(user);
            }

            var updated = await users.UpdateAsync(user);
            if (!updated.Succeeded)
            {
                return IdentityProblem(updated);
            }

            var removedRoles = await SetRolesAsync(users, user, request.Roles);
            removedAdmin = removedRoles.Contains(ApplicationUser.AdminRole, StringComparer.OrdinalIgnoreCase);
            // In the same transaction as the change, and again at every PUT that leaves the user disabled.
            await RevokeWhatTheUpdateEndsAsync(tokens, user, removedAdmin, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return null;
        });
        if (refused is not null)
        {
            return refused;
        }

        // Once more now that the change is visible: a password grant that checked the user before it saves its tokens
        // after the revocation above, and then reads the user again and finds the change, or its tokens are here.
        await RevokeWhatTheUpdateEndsAsync(tokens, user, removedAdmin, CancellationToken.None);
        if (!user.Enabled)
        {
            await backChannelLogout.SessionsOfUserEndedAsync(user.Id);
        }

        await audit.RecordAsync(actor, "user.updated", user.Id, new { user.UserName, user.Email, request.Roles, user.Enabled });
        return TypedResults.Ok(await ToResponseAsync(users, user, time));
    }

    private static async Task RevokeWhatTheUpdateEndsAsync(
        IOpenIddictTokenManager tokens, ApplicationUser user, bool removedAdmin, CancellationToken cancellationToken)
    {
        if (!user.Enabled)
        {
            // A disabled account keeps nothing it was issued: its access tokens stop introspecting active and opening
            // userinfo and the admin API at once, as its refresh tokens already fail. Its consents stay, for re-enabling.
            await tokens.RevokeBySubjectAsync(user.Id, cancellationToken);
        }
        else if (removedAdmin)
        {
            // Its admin-scope access tokens would keep opening the admin API until they expire (the API checks the
            // token's row, not the user's roles). Its refresh tokens stay: the next refresh drops the admin scope.
            await tokens.RevokeAsync(user.Id, client: null, status: null, type: TokenTypeIdentifiers.AccessToken, cancellationToken);
        }
    }

    private static async Task<IResult> DeleteAsync(
        string id, UserManager<ApplicationUser> users, IOpenIddictAuthorizationManager authorizations, IOpenIddictTokenManager tokens,
        BackChannelLogout backChannelLogout, AuditTrail audit, ClaimsPrincipal actor, CancellationToken cancellationToken)
    {
        var user = await users.FindByIdAsync(id);
        if (user is null)
        {
            return AdminProblems.NotFound("User", id);
        }

        // Nothing issued to the user may outlive the account: revoke its tokens and consents first.
        await tokens.RevokeBySubjectAsync(user.Id, cancellationToken);
        await authorizations.RevokeBySubjectAsync(user.Id, cancellationToken);
        var deleted = await users.DeleteAsync(user);
        if (!deleted.Succeeded)
        {
            return IdentityProblem(deleted);
        }

        // Once more: a sign-in that checked the user before the revocation above may have saved tokens since.
        await tokens.RevokeBySubjectAsync(user.Id, CancellationToken.None);
        await backChannelLogout.SessionsOfUserEndedAsync(user.Id);

        await audit.RecordAsync(actor, "user.deleted", id, null);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> ResetPasswordAsync(
        string id, PasswordResetRequest request, UserManager<ApplicationUser> users, IOpenIddictTokenManager tokens,
        BackChannelLogout backChannelLogout, AuditTrail audit, ClaimsPrincipal actor, CancellationToken cancellationToken)
    {
        var user = await users.FindByIdAsync(id);
        if (user is null)
        {
            return AdminProblems.NotFound("User", id);
        }

        if (string.IsNullOrEmpty(request.Password))
        {
            var errors = new FieldErrors();
            errors.Add("password", "A password is required.");
            return errors.ToProblem();
        }

        var token = await users.GeneratePasswordResetTokenAsync(user);
        // Resetting changes the security stamp, so sessions and refresh tokens issued before it stop working.
        LiftLockout(user);   // saved by the reset: the owner, locked out by guesses, gets in with the new password
        var reset = await users.ResetPasswordAsync(user, token, request.Password);
        if (!reset.Succeeded)
        {
            return IdentityProblem(reset);
        }

        // A reset is often the answer to a stolen password: the access tokens issued before it stop at once too
        // (introspection, userinfo, the admin API), as when the user is disabled. Consents stay. The reset is saved: the
        // caller hanging up now must not leave them working.
        await tokens.RevokeBySubjectAsync(user.Id, CancellationToken.None);
        await backChannelLogout.SessionsOfUserEndedAsync(user.Id);

        await audit.RecordAsync(actor, "user.password_reset", user.Id, null);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Signs the user out everywhere, as Keycloak's logout of a user does: for a lost device or a session the user does
    /// not recognise, without disabling the account or changing its password. Consents stay.
    /// </summary>
    private static async Task<IResult> LogOutEverywhereAsync(
        string id, UserManager<ApplicationUser> users, IOpenIddictTokenManager tokens, BackChannelLogout backChannelLogout, AuditTrail audit,
        ClaimsPrincipal actor, CancellationToken cancellationToken)
    {
        var user = await users.FindByIdAsync(id);
        if (user is null)
        {
            return AdminProblems.NotFound("User", id);
        }

        // A new security stamp ends the browser sessions (checked at every authorization request) and the refresh
        // tokens (checked at every refresh, against the stamp they carry).
        var updated = await users.UpdateSecurityStampAsync(user);
        if (!updated.Succeeded)
        {
            return IdentityProblem(updated);
        }

        // The access tokens stop at once too (introspection, userinfo, the admin API). Saved: the caller hanging up now
        // must not leave them working.
        await tokens.RevokeBySubjectAsync(user.Id, CancellationToken.None);
        await backChannelLogout.SessionsOfUserEndedAsync(user.Id);

        await audit.RecordAsync(actor, "user.logged_out", user.Id, null);
        return TypedResults.NoContent();
    }

    private static void LiftLockout(ApplicationUser user)
    {
        user.LockoutEnd = null;
        user.AccessFailedCount = 0;
    }

    private static FieldErrors ValidateProfile(UserRequest request)
    {
        var errors = new FieldErrors();
        if (string.IsNullOrWhiteSpace(request.Username))
        {
            errors.Add("username", "A username is required.");
        }
        else if (request.Username.Trim().Length is < 2 or > 64)
        {
            errors.Add("username", "Usernames are 2 to 64 characters.");
        }
        else if (!request.Username.Trim().All(UserErrors.IsUserNameCharacter))
        {
            // Identity refuses these too, but only once every other field is valid: said here, all errors come at once.
            errors.Add("username", $"Use {UserErrors.UserNameCharacters} only.");
        }

        if (!string.IsNullOrWhiteSpace(request.Email) && (request.Email.Length > 256 || !EmailAddresses.IsValid(request.Email.Trim())))
        {
            errors.Add("email", "Enter a valid email address.");
        }

        if (request.Roles?.Any(role => string.IsNullOrWhiteSpace(role) || role.Length > 64) == true)
        {
            errors.Add("roles", "Role names are 1 to 64 characters.");
        }
        else if (request.Roles?.Any(role => role.Any(char.IsControl)) == true)
        {
            errors.Add("roles", "Role names cannot contain control characters.");
        }

        if (request.Roles?.Count > MaxRoles)
        {
            errors.Add("roles", $"At most {MaxRoles} roles.");
        }

        return errors;
    }

    // Identity matches role names without regard to case: "ADMIN" is the role "admin", not a swap of one for the other.
    private static List<string> RoleNames(IReadOnlyList<string>? wanted) =>
        [.. (wanted ?? []).Select(r => r.Trim()).Distinct(StringComparer.OrdinalIgnoreCase)];

    /// <summary>
    /// Roles are made on first use, each on its own before the user's transaction: of two requests naming one new role
    /// at once, the loser of the insert finds the winner's row, where inside the transaction the unique name failed the
    /// whole request (on PostgreSQL an error ends the transaction).
    /// </summary>
    private static async Task EnsureRolesExistAsync(
        RoleManager<IdentityRole> roles, ApplicationDbContext db, IReadOnlyList<string>? wanted, CancellationToken cancellationToken)
    {
        var names = RoleNames(wanted);
        if (names.Count == 0)
        {
            return;
        }

        var normalized = names.Select(roles.NormalizeKey).ToList();
        var existing = await db.Roles.AsNoTracking().Where(role => normalized.Contains(role.NormalizedName!))
            .Select(role => role.NormalizedName!).ToListAsync(cancellationToken);
        foreach (var name in names.Where(name => !existing.Contains(roles.NormalizeKey(name), StringComparer.Ordinal)))
        {
            var role = new IdentityRole(name);
            try
            {
                var created = await roles.CreateAsync(role);
                if (!created.Succeeded && !await roles.RoleExistsAsync(name))
                {
                    throw new InvalidOperationException($"The role '{name}' was refused: " + string.Join(" ", created.Errors.Select(e => e.Description)));
                }
            }
            catch (DbUpdateException)
            {
                // Made by a concurrent request between the look-up and the insert; the failed insert must not be retried.
                db.Entry(role).State = EntityState.Detached;
                if (!await roles.RoleExistsAsync(name))
                {
                    throw;
                }
            }
        }
    }

    /// <returns>The roles the user lost.</returns>
    private static async Task<IReadOnlyList<string>> SetRolesAsync(
        UserManager<ApplicationUser> users, ApplicationUser user, IReadOnlyList<string>? wanted)
    {
        var target = RoleNames(wanted);
        var current = await users.GetRolesAsync(user);
        var toAdd = target.Except(current, StringComparer.OrdinalIgnoreCase).ToList();
        var toRemove = current.Except(target, StringComparer.OrdinalIgnoreCase).ToList();
        if (toRemove.Count > 0)
        {
            await users.RemoveFromRolesAsync(user, toRemove);
        }

        if (toAdd.Count > 0)
        {
            await users.AddToRolesAsync(user, toAdd);
        }

        return toRemove;
    }

    private static IResult IdentityProblem(IdentityResult result)
    {
        if (result.Errors.Any(e => e.Code is nameof(IdentityErrorDescriber.ConcurrencyFailure)))
        {
            return AdminProblems.ChangedMeanwhile();
        }

        if (result.Errors.Any(e => e.Code is nameof(IdentityErrorDescriber.DuplicateUserName)))
        {
            return AdminProblems.Conflict("A user with that username already exists.");
        }

        if (result.Errors.Any(e => e.Code is nameof(IdentityErrorDescriber.DuplicateEmail)))
        {
            return AdminProblems.Conflict("A user with that email address already exists.");
        }

        var errors = new FieldErrors();
        foreach (var error in result.Errors)
        {
            var field = error.Code switch
            {
                _ when error.Code.StartsWith("Password", StringComparison.Ordinal) => "password",
                _ when error.Code.Contains("Email", StringComparison.Ordinal) => "email",
                _ when error.Code.Contains("UserName", StringComparison.Ordinal) => "username",
                _ when error.Code.Contains("Role", StringComparison.Ordinal) => "roles",
                _ => "user",
            };
            errors.Add(field, error.Description);
        }

        return errors.ToProblem();
    }

    private static async Task<UserResponse> ToResponseAsync(UserManager<ApplicationUser> users, ApplicationUser user, TimeProvider time) =>
        ToResponse(user, [.. (await users.GetRolesAsync(user)).Order(StringComparer.Ordinal)], time);

    private static UserResponse ToResponse(ApplicationUser user, IReadOnlyList<string> roles, TimeProvider time) =>
        new(user.Id, user.UserName!, user.Email, roles, user.Enabled, user.CreatedAt,
            user.LockoutEnd > time.GetUtcNow() ? user.LockoutEnd : null);
}
