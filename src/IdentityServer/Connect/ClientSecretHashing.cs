using System.Security.Cryptography;
using System.Text;

namespace IdentityServer.Connect;

/// <summary>
/// How client secrets are stored. OpenIddict hashes every secret with PBKDF2 (10,000 SHA-256 iterations, ~3 ms of
/// CPU), which is what a secret a person chose needs, but it caps client authentication near 320 per second per
/// core. A secret of 256 random bits (what the admin API generates) cannot be guessed whatever the hash, so for
/// secrets of that shape one SHA-256, compared in constant time, protects as well and costs about a microsecond.
/// </summary>
public static class ClientSecretHashing
{
    /// <summary>Marks the fast format. PBKDF2 hashes are plain base64, which never contains ':'.</summary>
    public const string Sha256Prefix = "sha256:";

    /// <summary>
    /// True for a secret shaped like 256 random bits: at least 43 characters of the base64 or base64url alphabet,
    /// both letter cases, and at least 20 different characters. <see cref="Admin.ClientsEndpoints.NewSecret"/> always
    /// is (but for a chance below 1e-9); a pass-phrase or a word with digits is not, and keeps PBKDF2.
    /// </summary>
    public static bool IsHighEntropy(string secret)
    {
        if (secret.Length < 43)
        {
            return false;
        }

        bool upper = false, lower = false;
        Span<bool> seen = stackalloc bool[128];
        var distinct = 0;
        foreach (var c in secret)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '+' or '/' or '='))
            {
                return false;
            }

            upper |= char.IsAsciiLetterUpper(c);
            lower |= char.IsAsciiLetterLower(c);
            if (!seen[c])
            {
                seen[c] = true;
                distinct++;
            }
        }

        return upper && lower && distinct >= 20;
    }

    public static string HashSha256(string secret) =>
        Sha256Prefix + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>Checks <paramref name="secret"/> against a <see cref="Sha256Prefix"/> hash in constant time.</summary>
    public static bool VerifySha256(string secret, string stored)
    {
        Span<byte> expected = stackalloc byte[SHA256.HashSizeInBytes];
        if (!stored.StartsWith(Sha256Prefix, StringComparison.Ordinal)
            || !Convert.TryFromBase64String(stored[Sha256Prefix.Length..], expected, out var written)
            || written != SHA256.HashSizeInBytes)
        {
            return false;
        }

        Span<byte> actual = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(secret), actual);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}
