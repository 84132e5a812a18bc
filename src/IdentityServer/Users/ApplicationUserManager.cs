using System.Linq.Expressions;
using System.Security.Cryptography;
using IdentityServer.Persistence;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Query;
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
    ApplicationDbContext db,
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
            if (!(await UpdateUserAsync(user)).Succeeded)
            {
                // A parallel login of the same user saved its stronger hash first. This one is dropped, and the user read
                // again, so that the next save of the request (its audit row) does not meet the stale change.
                await db.Entry(user).ReloadAsync(CancellationToken);
            }
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
        var hashed = await SetInitialPasswordAsync(user, password);
        return hashed.Succeeded ? await CreateAsync(user) : hashed;
    }

    /// <summary>
    /// Validates a new user's password and sets its hash, without saving anything, so that a caller creating the user in
    /// a transaction can hash first: on SQLite a transaction holds the only write lock, and BCrypt inside one stalled
    /// every other write (token requests included) for as long as it ran.
    /// </summary>
    public async Task<IdentityResult> SetInitialPasswordAsync(ApplicationUser user, string password)
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
        return IdentityResult.Success;
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

    /// <summary>
    /// Counted in one statement, so that wrong passwords sent in parallel each count: Identity's read-modify-write of the
    /// user lost all but one of them to its concurrency check (the lockout came after many more guesses than
    /// <c>Lockout:MaxFailedAttempts</c>) and left the user modified for the request's next save to fail on.
    /// </summary>
    public override async Task<IdentityResult> AccessFailedAsync(ApplicationUser user)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(user);

        // A guess made against an account a parallel attempt has locked meanwhile does not count towards its next
        // lockout: the statement itself skips a locked row, so no attempt can lock it between a check and the write.
        var now = time.GetUtcNow();
        var max = Options.Lockout.MaxFailedAccessAttempts;
        DateTimeOffset? lockedUntil = now.Add(Options.Lockout.DefaultLockoutTimeSpan);
        await UpdateInOneStatementAsync(
            user,
            set => set
                .SetProperty(u => u.LockoutEnd, u => u.AccessFailedCount + 1 >= max ? lockedUntil : u.LockoutEnd)
                .SetProperty(u => u.AccessFailedCount, u => u.AccessFailedCount + 1 >= max ? 0 : u.AccessFailedCount + 1),
            onlyIf: u => !u.LockoutEnabled || u.LockoutEnd == null || u.LockoutEnd < now);
        return IdentityResult.Success;
    }

    /// <summary>
    /// Whether the account is locked as stored now, not as it was read: a password check takes a BCrypt verify, during
    /// which parallel attempts may have locked it. The user is read again.
    /// </summary>
    public async Task<bool> IsLockedOutNowAsync(ApplicationUser user)
    {
        await db.Entry(user).ReloadAsync(CancellationToken);
        return await IsLockedOutAsync(user);
    }

    /// <summary>
    /// In one statement too: a sign-in whose reset lost a concurrency check to a parallel one was refused by Identity.
    /// </summary>
    public override async Task<IdentityResult> ResetAccessFailedCountAsync(ApplicationUser user)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(user);
        if (user.AccessFailedCount == 0)
        {
            return IdentityResult.Success;
        }

        await UpdateInOneStatementAsync(user, set => set.SetProperty(u => u.AccessFailedCount, 0));
        return IdentityResult.Success;
    }

    /// <summary>
    /// Writes the user's row in one statement (if it still matches <paramref name="onlyIf"/>), with a new concurrency stamp as Identity writes at every update (so a
    /// change prepared from an earlier read, an admin's PUT, fails its check and is retried on a fresh read instead of
    /// writing back the old lockout), then reads the user again.
    /// </summary>
    private async Task UpdateInOneStatementAsync(
        ApplicationUser user, Action<UpdateSettersBuilder<ApplicationUser>> set, Expression<Func<ApplicationUser, bool>>? onlyIf = null)
    {
        var row = db.Users.Where(u => u.Id == user.Id);
        if (onlyIf is not null)
        {
            row = row.Where(onlyIf);
        }

        await SqliteWriteGate.WriteAsync(db, cancellationToken => row.ExecuteUpdateAsync(setters =>
        {
            set(setters);
            setters.SetProperty(u => u.ConcurrencyStamp, Guid.NewGuid().ToString());
        }, cancellationToken), CancellationToken);
        await db.Entry(user).ReloadAsync(CancellationToken);
    }
}
