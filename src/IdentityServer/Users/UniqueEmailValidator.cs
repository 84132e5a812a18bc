using Microsoft.AspNetCore.Identity;

namespace IdentityServer.Users;

/// <summary>
/// An email address, when given, belongs to one account: people sign in with it, so two owners would make the
/// login ambiguous. (Identity's RequireUniqueEmail would also make the address mandatory, which the bootstrap admin
/// and admin-created service users do not need.)
/// </summary>
public sealed class UniqueEmailValidator : IUserValidator<ApplicationUser>
{
    public async Task<IdentityResult> ValidateAsync(UserManager<ApplicationUser> manager, ApplicationUser user)
    {
        if (string.IsNullOrWhiteSpace(user.Email))
        {
            return IdentityResult.Success;
        }

        var owner = await manager.FindByEmailAsync(user.Email);
        return owner is not null && owner.Id != user.Id
            ? IdentityResult.Failed(new IdentityErrorDescriber().DuplicateEmail(user.Email))
            : IdentityResult.Success;
    }
}
