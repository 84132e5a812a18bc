using Microsoft.AspNetCore.Identity;

namespace IdentityServer.Users;

/// <summary>
/// People sign in with their username or their email address, so each must lead to one account: an email is no
/// other account's email or username, and a username is no other account's email (else one account's username
/// would capture another's email login). Identity checks usernames against usernames itself; its RequireUniqueEmail
/// would also make the address mandatory, which the bootstrap admin and admin-created service users do not need.
/// Only a name being set is checked: Identity validates at every write to a user (a failed login's counter too), and
/// accounts that clashed before this rule existed must still lock out, be disabled and have their password reset.
/// </summary>
public sealed class UniqueSignInNamesValidator : IUserValidator<ApplicationUser>
{
    public async Task<IdentityResult> ValidateAsync(UserManager<ApplicationUser> manager, ApplicationUser user)
    {
        // Identity stores the normalized names after validating, so they still hold what is stored now.
        var emailChanged = !string.IsNullOrWhiteSpace(user.Email) && manager.NormalizeEmail(user.Email) != user.NormalizedEmail;
        var userNameChanged = user.UserName is not null && manager.NormalizeName(user.UserName) != user.NormalizedUserName;

        var errors = new List<IdentityError>();
        if (emailChanged
            && (IsAnotherAccount(await manager.FindByEmailAsync(user.Email!)) || IsAnotherAccount(await manager.FindByNameAsync(user.Email!))))
        {
            errors.Add(manager.ErrorDescriber.DuplicateEmail(user.Email!));
        }

        // Emails always hold an '@'; a username without one can be nobody's email.
        if (userNameChanged && user.UserName!.Contains('@', StringComparison.Ordinal)
            && IsAnotherAccount(await manager.FindByEmailAsync(user.UserName)))
        {
            errors.Add(manager.ErrorDescriber.DuplicateUserName(user.UserName));
        }

        return errors.Count == 0 ? IdentityResult.Success : IdentityResult.Failed([.. errors]);

        bool IsAnotherAccount(ApplicationUser? found) => found is not null && found.Id != user.Id;
    }
}
