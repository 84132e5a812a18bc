using Microsoft.AspNetCore.Identity;

namespace IdentityServer.Users;

/// <summary>
/// People sign in with their username or their email address, so each must lead to one account: an email is no
/// other account's email or username, and a username is no other account's email (else one account's username
/// would capture another's email login). Identity checks usernames against usernames itself; its RequireUniqueEmail
/// would also make the address mandatory, which the bootstrap admin and admin-created service users do not need.
/// </summary>
public sealed class UniqueSignInNamesValidator : IUserValidator<ApplicationUser>
{
    public async Task<IdentityResult> ValidateAsync(UserManager<ApplicationUser> manager, ApplicationUser user)
    {
        var errors = new List<IdentityError>();
        if (!string.IsNullOrWhiteSpace(user.Email)
            && (IsAnotherAccount(await manager.FindByEmailAsync(user.Email)) || IsAnotherAccount(await manager.FindByNameAsync(user.Email))))
        {
            errors.Add(manager.ErrorDescriber.DuplicateEmail(user.Email));
        }

        // Emails always hold an '@'; a username without one can be nobody's email.
        if (user.UserName is { } userName && userName.Contains('@', StringComparison.Ordinal)
            && IsAnotherAccount(await manager.FindByEmailAsync(userName)))
        {
            errors.Add(manager.ErrorDescriber.DuplicateUserName(userName));
        }

        return errors.Count == 0 ? IdentityResult.Success : IdentityResult.Failed([.. errors]);

        bool IsAnotherAccount(ApplicationUser? found) => found is not null && found.Id != user.Id;
    }
}
