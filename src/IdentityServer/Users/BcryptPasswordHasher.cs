using System.Text;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace IdentityServer.Users;

/// <summary>
/// Identity's password hasher backed by BCrypt. BCrypt reads only the first 72 bytes of a password, so longer
/// passwords are refused when set (<see cref="BcryptPasswordLengthValidator"/>) and never match when checked,
/// rather than being silently truncated.
/// </summary>
public sealed class BcryptPasswordHasher(IOptions<PasswordHashingOptions> options) : IPasswordHasher<ApplicationUser>
{
    public const int MaxPasswordBytes = 72;

    // A real hash of a random string at the configured cost, so that checking a password for an unknown user
    // costs as much as for a real one.
    private readonly Lazy<string> dummyHash = new(() => BCrypt.Net.BCrypt.HashPassword(Guid.NewGuid().ToString(), options.Value.BcryptWorkFactor));

    public string HashPassword(ApplicationUser user, string password)
    {
        if (Encoding.UTF8.GetByteCount(password) > MaxPasswordBytes)
        {
            throw new ArgumentException($"Passwords longer than {MaxPasswordBytes} bytes cannot be hashed with BCrypt.", nameof(password));
        }

        return BCrypt.Net.BCrypt.HashPassword(password, options.Value.BcryptWorkFactor);
    }

    public PasswordVerificationResult VerifyHashedPassword(ApplicationUser user, string hashedPassword, string providedPassword)
    {
        if (string.IsNullOrEmpty(hashedPassword))
        {
            return PasswordVerificationResult.Failed;
        }

        if (Encoding.UTF8.GetByteCount(providedPassword) > MaxPasswordBytes)
        {
            // Never a match, but it costs a verify all the same: a quick answer would set these apart from a wrong password.
            BCrypt.Net.BCrypt.Verify(string.Empty, DummyHash);
            return PasswordVerificationResult.Failed;
        }

        bool valid;
        try
        {
            valid = BCrypt.Net.BCrypt.Verify(providedPassword, hashedPassword);
        }
        catch (BCrypt.Net.SaltParseException)
        {
            return PasswordVerificationResult.Failed;
        }

        if (!valid)
        {
            return PasswordVerificationResult.Failed;
        }

        return BCrypt.Net.BCrypt.PasswordNeedsRehash(hashedPassword, options.Value.BcryptWorkFactor)
            ? PasswordVerificationResult.SuccessRehashNeeded
            : PasswordVerificationResult.Success;
    }

    /// <summary>A hash no password matches, at the configured cost: verifying against it costs what a real check costs.</summary>
    public string DummyHash => dummyHash.Value;
}

/// <summary>Refuses passwords BCrypt could not hash in full.</summary>
public sealed class BcryptPasswordLengthValidator : IPasswordValidator<ApplicationUser>
{
    public Task<IdentityResult> ValidateAsync(UserManager<ApplicationUser> manager, ApplicationUser user, string? password) =>
        Task.FromResult(password is not null && Encoding.UTF8.GetByteCount(password) > BcryptPasswordHasher.MaxPasswordBytes
            ? IdentityResult.Failed(new IdentityError
            {
                Code = "PasswordTooLong",
                Description = $"Passwords must be at most {BcryptPasswordHasher.MaxPasswordBytes} bytes long: {BcryptPasswordHasher.MaxPasswordBytes} plain letters, digits or symbols; accented letters and emoji take two to four bytes each.",
            })
            : IdentityResult.Success);
}

/// <summary>Refuses a password with a NUL character: no login form or token request can carry one, so it could never be used.</summary>
public sealed class NoNulPasswordValidator : IPasswordValidator<ApplicationUser>
{
    public Task<IdentityResult> ValidateAsync(UserManager<ApplicationUser> manager, ApplicationUser user, string? password) =>
        Task.FromResult(password?.Contains('\0', StringComparison.Ordinal) == true
            ? IdentityResult.Failed(new IdentityError { Code = "PasswordHasNul", Description = "Passwords cannot contain the NUL character." })
            : IdentityResult.Success);
}
