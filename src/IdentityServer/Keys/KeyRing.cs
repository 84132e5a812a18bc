using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace IdentityServer.Keys;

/// <summary>
/// The keys loaded from the database, in memory for the token pipeline. The signing key that is active now
/// comes first; keys that are not yet active or have stopped signing follow, so they stay in the JWKS.
/// </summary>
public sealed class KeyRing
{
    private volatile Snapshot? current;

    public bool IsLoaded => current is not null;

    public IReadOnlyList<SigningCredentials> SigningCredentials =>
        (current ?? throw NotLoaded()).Signing;

    public IReadOnlyList<EncryptingCredentials> EncryptionCredentials =>
        (current ?? throw NotLoaded()).Encryption;

    internal void Load(IEnumerable<SigningKey> keys, DateTimeOffset now)
    {
        var ordered = keys
            .OrderByDescending(k => IsActive(k, now))
            .ThenByDescending(k => k.ActivatesAt)
            // Instances racing at first start may both create a key: every instance then picks the same one.
            .ThenBy(k => k.Id, StringComparer.Ordinal)
            .ToList();

        current = new Snapshot(
            ordered.Where(k => k.Use == KeyUses.Signing)
                .Select(k => new SigningCredentials(ToSecurityKey(k), SecurityAlgorithms.RsaSha256))
                .ToList(),
            ordered.Where(k => k.Use == KeyUses.Encryption)
                .Select(k => new EncryptingCredentials(ToSecurityKey(k), SecurityAlgorithms.RsaOAEP, SecurityAlgorithms.Aes256CbcHmacSha512))
                .ToList());
    }

    /// <summary>
    /// Whether a key signs now. Instances' clocks differ by a little: a key another instance just created may start a
    /// moment "in the future" here, and must still count as current rather than prompt a second key.
    /// </summary>
    internal static bool IsActive(SigningKey key, DateTimeOffset now) =>
        key.ActivatesAt <= now + ClockSkew && key.ExpiresAt > now;

    // Far more than NTP-synchronised hosts drift, and far less than the shortest PublishAhead (10 minutes), so a
    // successor published ahead starts signing at most this much early.
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    private static RsaSecurityKey ToSecurityKey(SigningKey key)
    {
        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(Convert.FromBase64String(key.PrivateKey), out _);
        return new RsaSecurityKey(rsa) { KeyId = key.Id };
    }

    private static InvalidOperationException NotLoaded() =>
        new("The key ring is read from the database at start-up; it was used before that finished.");

    private sealed record Snapshot(IReadOnlyList<SigningCredentials> Signing, IReadOnlyList<EncryptingCredentials> Encryption);
}

public static class KeyUses
{
    public const string Signing = "sig";
    public const string Encryption = "enc";

    public static readonly IReadOnlyList<string> All = [Signing, Encryption];
}
