using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace IdentityServer.Users;

/// <summary>
/// Identity's user manager, except that re-hashing a password at a higher BCrypt cost after a successful login keeps
/// the security stamp. The base class re-hashes through the same path as a password change, which rotates the stamp
/// and so made every refresh token of the user fail once an operator raised <c>Passwords:BcryptWorkFactor</c>.
/// </summary>
public sealed class ApplicationUserManager(
    IUserStore<ApplicationUser> store,
    IOptions<IdentityOptions> optionsAccessor,
    IPasswordHasher<ApplicationUser> passwordHasher,
    IEnumerable<IUserValidator<ApplicationUser>> userValidators,
    IEnumerable<IPasswordValidator<ApplicationUser>> passwordValidators,
    ILookupNormalizer keyNormalizer,
    IdentityErrorDescriber errors,
    IServiceProvider services,
    ILogger<UserManager<ApplicationUser>> logger)
    : UserManager<ApplicationUser>(store, optionsAccessor, passwordHasher, userValidators, passwordValidators, keyNormalizer, errors, services, logger)
{
    public override async Task<bool> CheckPasswordAsync(ApplicationUser user, string password)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(user);
        if (Store is not IUserPasswordStore<ApplicationUser> passwordStore)
        {
            throw new NotSupportedException("The user store does not store passwords.");
        }

        var result = await VerifyPasswordAsync(passwordStore, user, password);
        if (result == PasswordVerificationResult.SuccessRehashNeeded)
        {
            // The same password with a stronger hash is not a password change: the stamp, and the sessions, stay.
            await passwordStore.SetPasswordHashAsync(user, PasswordHasher.HashPassword(user, password), CancellationToken);
            await UpdateUserAsync(user);
        }

        return result != PasswordVerificationResult.Failed;
    }
}
