using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace IdentityServer.Tests.Users;

/// <summary>The hasher on its own: no host needed.</summary>
public sealed class BcryptPasswordHasherTests
{
    private static readonly ApplicationUser User = new() { UserName = "hash-user" };

    private static BcryptPasswordHasher Hasher(int workFactor) =>
        new(Options.Create(new PasswordHashingOptions { BcryptWorkFactor = workFactor }));

    private static int WorkFactorOf(string hash) => int.Parse(hash.Split('$')[2], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void A_hash_verifies_its_password()
    {
        var hasher = Hasher(4);

        var hash = hasher.HashPassword(User, "correct horse battery staple");

        Assert.StartsWith("$2", hash, StringComparison.Ordinal);
        Assert.Equal(4, WorkFactorOf(hash));
        Assert.Equal(PasswordVerificationResult.Success, hasher.VerifyHashedPassword(User, hash, "correct horse battery staple"));
    }

    [Fact]
    public void The_same_password_hashes_differently_each_time()
    {
        var hasher = Hasher(4);

        Assert.NotEqual(hasher.HashPassword(User, "same-password-1"), hasher.HashPassword(User, "same-password-1"));
    }

    [Fact]
    public void A_wrong_password_fails()
    {
        var hasher = Hasher(4);
        var hash = hasher.HashPassword(User, "right-password-1");

        Assert.Equal(PasswordVerificationResult.Failed, hasher.VerifyHashedPassword(User, hash, "wrong-password-1"));
        Assert.Equal(PasswordVerificationResult.Failed, hasher.VerifyHashedPassword(User, hash, "Right-password-1"));
        Assert.Equal(PasswordVerificationResult.Failed, hasher.VerifyHashedPassword(User, hash, string.Empty));
    }

    [Fact]
    public void A_hash_made_at_a_lower_work_factor_asks_to_be_rehashed()
    {
        var weak = Hasher(4).HashPassword(User, "upgrade-me-1");

        Assert.Equal(PasswordVerificationResult.SuccessRehashNeeded, Hasher(5).VerifyHashedPassword(User, weak, "upgrade-me-1"));
        Assert.Equal(PasswordVerificationResult.Failed, Hasher(5).VerifyHashedPassword(User, weak, "not-me-at-all"));
    }

    [Fact]
    public void A_hash_made_at_a_higher_work_factor_is_kept()
    {
        var strong = Hasher(5).HashPassword(User, "already-strong-1");

        Assert.Equal(PasswordVerificationResult.Success, Hasher(4).VerifyHashedPassword(User, strong, "already-strong-1"));
    }

    [Fact]
    public void A_hash_that_is_not_bcrypt_fails_instead_of_throwing()
    {
        var hasher = Hasher(4);

        Assert.Equal(PasswordVerificationResult.Failed, hasher.VerifyHashedPassword(User, "AQAAAAIAAYagAAAAEJunk", "whatever-password"));
        Assert.Equal(PasswordVerificationResult.Failed, hasher.VerifyHashedPassword(User, string.Empty, "whatever-password"));
    }

    [Fact]
    public void A_password_over_72_bytes_is_never_hashed_and_never_verifies()
    {
        var hasher = Hasher(4);
        var first72 = new string('a', 72);
        var hash = hasher.HashPassword(User, first72);

        // BCrypt would read only the first 72 bytes and accept this; the hasher must not.
        Assert.Equal(PasswordVerificationResult.Failed, hasher.VerifyHashedPassword(User, hash, first72 + "b"));
        Assert.Throws<ArgumentException>(() => hasher.HashPassword(User, first72 + "b"));
        // Bytes, not characters: 37 two-byte characters are 74 bytes.
        Assert.Throws<ArgumentException>(() => hasher.HashPassword(User, new string('é', 37)));
    }

    [Fact]
    public async Task The_validator_refuses_passwords_over_72_bytes_and_accepts_72()
    {
        var validator = new BcryptPasswordLengthValidator();

        var tooLong = await validator.ValidateAsync(null!, User, new string('é', 37));
        var exactly72 = await validator.ValidateAsync(null!, User, new string('é', 36));

        Assert.False(tooLong.Succeeded);
        Assert.Equal("PasswordTooLong", Assert.Single(tooLong.Errors).Code);
        Assert.True(exactly72.Succeeded);
    }
}
