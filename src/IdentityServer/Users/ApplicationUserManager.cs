using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace IdentityServer.Users;

/// <summary>
/// Identity's user manager, except that re-hashing a password at a higher BCrypt cost after a successful login keeps
/// the security stamp. The base class re-hashes through the same path as a password change, which rotates the stamp
/// and so made every refresh token of the user fail once an operator raised <c>Passwords:BcryptWorkFactor</c>.
/// Lockout also reads the clock from <see cref="TimeProvider"/> (Identity itself only does from .NET 11 on), so a
/// lockout ends when the injected clock says so. BCrypt runs on <see cref="PasswordHashingThreads"/>, not on the
/// request's thread.
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
    TimeProvider time,
    PasswordHashingThreads hashing,
    BcryptPasswordHasher bcrypt,
    IHttpContextAccessor contextAccessor,
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
            await passwordStore.SetPasswordHashAsync(user, await HashAsync(user, password), CancellationToken);
            await UpdateUserAsync(user);
        }

        return result != PasswordVerificationResult.Failed;
    }

    protected override async Task<PasswordVerificationResult> VerifyPasswordAsync(
        IUserPasswordStore<ApplicationUser> store, ApplicationUser user, string password)
    {
        // An account without a password costs a verify too, so that it answers no sooner than a mistyped password.
        var hash = await store.GetPasswordHashAsync(user, CancellationToken);
        var result = await hashing.RunAsync(() => PasswordHasher.VerifyHashedPassword(user, hash ?? bcrypt.DummyHash, password), RequestAborted);
        return hash is null ? PasswordVerificationResult.Failed : result;
    }

    /// <summary>
    /// A check still waiting for a hashing thread when its caller hung up is skipped: as for an unknown user's
    /// (<see cref="ApplicationSignInManager.SpendOnePasswordCheckAsync"/>), so that neither costs the server more
    /// than the other. What follows a check that ran (counting a failure towards lockout) is never cancelled.
    /// </summary>
    private CancellationToken RequestAborted => contextAccessor.HttpContext?.RequestAborted ?? CancellationToken.None;

    /// <summary>As the base class (the password validated, then hashed, then the user created), hashing off the request's thread.</summary>
    public override async Task<IdentityResult> CreateAsync(ApplicationUser user, string password)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(password);
        if (Store is not IUserPasswordStore<ApplicationUser> passwordStore)
        {
            throw new NotSupportedException("The user store does not store passwords.");
        }

        var valid = await ValidatePasswordAsync(user, password);
        if (!valid.Succeeded)
        {
            return valid;
        }

        await passwordStore.SetPasswordHashAsync(user, await HashAsync(user, password), CancellationToken);
        return await CreateAsync(user);
    }

    /// <summary>
    /// As the base class (validated, hashed, the security stamp renewed for the caller to save), hashing off the
    /// request's thread. Identity calls this overload from <see cref="UserManager{TUser}.ResetPasswordAsync"/>, the
    /// admin API's password reset; its change, add and remove paths call a private one and are not used here.
    /// </summary>
    protected override async Task<IdentityResult> UpdatePasswordHash(ApplicationUser user, string? newPassword, bool validatePassword)
    {
        ThrowIfDisposed();
        if (Store is not IUserPasswordStore<ApplicationUser> passwordStore)
        {
            throw new NotSupportedException("The user store does not store passwords.");
        }

        if (validatePassword && await ValidatePasswordAsync(user, newPassword) is { Succeeded: false } invalid)
        {
            return invalid;
        }

        await passwordStore.SetPasswordHashAsync(user, newPassword is null ? null : await HashAsync(user, newPassword), CancellationToken);
        if (Store is IUserSecurityStampStore<ApplicationUser> stampStore)
        {
            await stampStore.SetSecurityStampAsync(user, Convert.ToHexString(RandomNumberGenerator.GetBytes(20)), CancellationToken);
        }

        return IdentityResult.Success;
    }

    private Task<string> HashAsync(ApplicationUser user, string password) =>
        hashing.RunAsync(() => PasswordHasher.HashPassword(user, password), CancellationToken);

    public override async Task<bool> IsLockedOutAsync(ApplicationUser user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return await GetLockoutEnabledAsync(user) && await GetLockoutEndDateAsync(user) is { } end && end >= time.GetUtcNow();
    }

    public override async Task<IdentityResult> AccessFailedAsync(ApplicationUser user)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(user);
        if (Store is not IUserLockoutStore<ApplicationUser> lockoutStore)
        {
            throw new NotSupportedException("The user store does not support lockout.");
        }

        var failures = await lockoutStore.IncrementAccessFailedCountAsync(user, CancellationToken);
        if (failures >= Options.Lockout.MaxFailedAccessAttempts)
        {
            await lockoutStore.SetLockoutEndDateAsync(user, time.GetUtcNow().Add(Options.Lockout.DefaultLockoutTimeSpan), CancellationToken);
            await lockoutStore.ResetAccessFailedCountAsync(user, CancellationToken);
        }

        return await UpdateUserAsync(user);
    }
}
