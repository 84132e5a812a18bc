using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace IdentityServer.Keys;

/// <summary>
/// The keys loaded from the database, in memory for the token pipeline. Of each use, the key that is active now
/// comes first; keys that are not yet active or have stopped signing follow, so they still validate (and the RSA
/// signing keys stay in the JWKS).
/// </summary>
public sealed class KeyRing
{
    private volatile Snapshot? current;

    public bool IsLoaded => current is not null;

    private long loadedAtUtcTicks;

    /// <summary>When the keys were last read from the database (the readiness check watches it).</summary>
    public DateTimeOffset LoadedAt => new(Interlocked.Read(ref loadedAtUtcTicks), TimeSpan.Zero);

    /// <summary>Every key a token may be signed with: the RSA keys, then the HMAC keys.</summary>
    public IReadOnlyList<SigningCredentials> SigningCredentials =>
        (current ?? throw NotLoaded()).Signing;

    /// <summary>Every key a token may be encrypted with: the AES key-wrap keys, then RSA keys of earlier versions.</summary>
    public IReadOnlyList<EncryptingCredentials> EncryptionCredentials =>
        (current ?? throw NotLoaded()).Encryption;

    /// <summary>
    /// The keys new tokens are protected with at <paramref name="now"/>: of each use, the loaded key active then. A
    /// successor published ahead thus takes over when its time comes, not when this instance next reloads the ring
    /// (up to <c>Keys:RefreshInterval</c> later, or never while the database is unreachable). With no loaded key
    /// active then (the ring has not been reloaded for longer than a key is published ahead), the newest keeps signing.
    /// </summary>
    public ActiveKeys ActiveAt(DateTimeOffset now)
    {
        var snapshot = current ?? throw NotLoaded();
        return new ActiveKeys(
            ActiveOf(snapshot.PublicSigning, now),
            ActiveOf(snapshot.InternalSigning, now),
            ActiveOf(snapshot.InternalEncryption, now));
    }

    private static T ActiveOf<T>(IReadOnlyList<(SigningKey Key, T Credentials)> candidates, DateTimeOffset now)
    {
        foreach (var (key, credentials) in candidates)
        {
            if (IsActive(key, now))
            {
                return credentials;
            }
        }

        return candidates.MaxBy(candidate => candidate.Key.ActivatesAt).Credentials;
    }

    internal void Load(IEnumerable<SigningKey> keys, DateTimeOffset now)
    {
        var ordered = keys
            .OrderByDescending(k => IsActive(k, now))
            .ThenByDescending(k => k.ActivatesAt)
            // Instances racing at first start may both create a key: every instance then picks the same one.
            .ThenBy(k => k.Id, StringComparer.Ordinal)
            .ToList();

        List<SigningCredentials> rsaSigning = [.. ordered.Where(k => k.Use == KeyUses.Signing)
            .Select(k => new SigningCredentials(ToRsaKey(k), SecurityAlgorithms.RsaSha256))];
        List<SigningCredentials> hmacSigning = [.. ordered.Where(k => k.Use == KeyUses.HmacSigning)
            .Select(k => new SigningCredentials(ToSymmetricKey(k), SecurityAlgorithms.HmacSha256))];
        List<EncryptingCredentials> keyWrap = [.. ordered.Where(k => k.Use == KeyUses.KeyWrap)
            .Select(k => new EncryptingCredentials(ToSymmetricKey(k), SecurityAlgorithms.Aes256KW, SecurityAlgorithms.Aes256CbcHmacSha512))];
        List<EncryptingCredentials> rsaEncryption = [.. ordered.Where(k => k.Use == KeyUses.Encryption)
            .Select(k => new EncryptingCredentials(ToRsaKey(k), SecurityAlgorithms.RsaOAEP, SecurityAlgorithms.Aes256CbcHmacSha512))];

        current = new Snapshot(
            [.. rsaSigning, .. hmacSigning],
            [.. keyWrap, .. rsaEncryption],
            Candidates(ordered, KeyUses.Signing, rsaSigning),
            Candidates(ordered, KeyUses.HmacSigning, hmacSigning),
            Candidates(ordered, KeyUses.KeyWrap, keyWrap));
        Interlocked.Exchange(ref loadedAtUtcTicks, now.UtcTicks);
    }

    // The keys of one use beside their credentials, in load order (active at load first).
    private static List<(SigningKey Key, T Credentials)> Candidates<T>(List<SigningKey> ordered, string use, List<T> credentials)
    {
        var keys = ordered.Where(k => k.Use == use).ToList();
        return keys.Count == 0 ? throw Missing(use) : [.. keys.Zip(credentials)];
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

    private static RsaSecurityKey ToRsaKey(SigningKey key)
    {
        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(Convert.FromBase64String(key.PrivateKey), out _);
        return new RsaSecurityKey(rsa) { KeyId = key.Id };
    }

    private static SymmetricSecurityKey ToSymmetricKey(SigningKey key) =>
        new(Convert.FromBase64String(key.PrivateKey)) { KeyId = key.Id };

    private static InvalidOperationException NotLoaded() =>
        new("The key ring is read from the database at start-up; it was used before that finished.");

    private static InvalidOperationException Missing(string use) =>
        new($"The key store loaded no '{use}' key; it creates one of each use before loading.");

    private sealed record Snapshot(
        IReadOnlyList<SigningCredentials> Signing,
        IReadOnlyList<EncryptingCredentials> Encryption,
        IReadOnlyList<(SigningKey Key, SigningCredentials Credentials)> PublicSigning,
        IReadOnlyList<(SigningKey Key, SigningCredentials Credentials)> InternalSigning,
        IReadOnlyList<(SigningKey Key, EncryptingCredentials Credentials)> InternalEncryption);
}

/// <param name="PublicSigning">RSA, for the tokens others validate from the JWKS: access and ID tokens.</param>
/// <param name="InternalSigning">HMAC-SHA256, for the tokens only this server reads (codes, refresh tokens...).</param>
/// <param name="InternalEncryption">AES key wrap, for those same tokens.</param>
public sealed record ActiveKeys(
    SigningCredentials PublicSigning, SigningCredentials InternalSigning, EncryptingCredentials InternalEncryption);

public static class KeyUses
{
    /// <summary>RSA, RS256: access and ID tokens; published in the JWKS.</summary>
    public const string Signing = "sig";

    /// <summary>
    /// RSA-OAEP: what encrypted refresh tokens and codes before the symmetric keys. No longer created; the ones in the
    /// database still decrypt the tokens they protected until they retire.
    /// </summary>
    public const string Encryption = "enc";

    /// <summary>A 256-bit secret, HS256: signs the tokens only this server reads. Never published.</summary>
    public const string HmacSigning = "hmac";

    /// <summary>A 256-bit secret, A256KW: encrypts the tokens only this server reads. Never published.</summary>
    public const string KeyWrap = "aeskw";

    /// <summary>The uses the key store keeps a current key (and a successor published ahead) for.</summary>
    public static readonly IReadOnlyList<string> Rotated = [Signing, HmacSigning, KeyWrap];

    public static bool IsSymmetric(string use) => use is HmacSigning or KeyWrap;
}
