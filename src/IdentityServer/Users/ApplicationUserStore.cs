using IdentityServer.Persistence;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace IdentityServer.Users;

/// <summary>
/// Identity's store with one addition: when another account takes the username or email in the moment between the
/// validators' check and this write, the database's unique index refuses the write, and the caller gets the same
/// duplicate error the check would have given (409 in the admin API, a message on the registration page), not a
/// server error. Any other failed write is rethrown.
/// </summary>
public sealed class ApplicationUserStore(ApplicationDbContext context, IdentityErrorDescriber? describer = null)
    : UserStore<ApplicationUser, IdentityRole, ApplicationDbContext>(context, describer)
{
    public override async Task<IdentityResult> CreateAsync(ApplicationUser user, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.CreateAsync(user, cancellationToken);
        }
        catch (DbUpdateException) when (Context.Entry(user).State is EntityState.Added)
        {
            Context.Entry(user).State = EntityState.Detached;
            if (await TakenByAnotherAccountAsync(user, cancellationToken) is { } duplicate)
            {
                return duplicate;
            }

            throw;
        }
    }

    public override async Task<IdentityResult> UpdateAsync(ApplicationUser user, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.UpdateAsync(user, cancellationToken);
        }
        catch (DbUpdateException exception) when (exception is not DbUpdateConcurrencyException)
        {
            if (await TakenByAnotherAccountAsync(user, cancellationToken) is { } duplicate)
            {
                await Context.Entry(user).ReloadAsync(cancellationToken);
                return duplicate;
            }

            throw;
        }
    }

    private async Task<IdentityResult?> TakenByAnotherAccountAsync(ApplicationUser user, CancellationToken cancellationToken)
    {
        var others = Context.Users.AsNoTracking().Where(other => other.Id != user.Id);
        if (user.NormalizedUserName is { } userName && await others.AnyAsync(other => other.NormalizedUserName == userName, cancellationToken))
        {
            return IdentityResult.Failed(ErrorDescriber.DuplicateUserName(user.UserName!));
        }

        if (user.NormalizedEmail is { } email && await others.AnyAsync(other => other.NormalizedEmail == email, cancellationToken))
        {
            return IdentityResult.Failed(ErrorDescriber.DuplicateEmail(user.Email!));
        }

        return null;
    }
}
