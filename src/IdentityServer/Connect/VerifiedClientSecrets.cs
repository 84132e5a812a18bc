using System.Security.Cryptography;
using System.Text;

namespace IdentityServer.Connect;

/// <summary>
/// Remembers, for <see cref="ConnectOptions.MetadataCacheDuration"/>, that a client secret a person chose (hashed
/// with PBKDF2, ~3 ms of CPU on purpose) has just been verified, so that a client calling the token endpoint many
/// times a second pays that cost once, not at every request. Only a secret that passed PBKDF2 is remembered, and
/// only as an HMAC under a key that never leaves this process: a wrong secret still costs a full PBKDF2 verify, so
/// guessing online is as slow as before. The entry is keyed by the stored hash, which a new secret replaces, and
/// every change of a client through this instance forgets them all.
/// </summary>
public sealed class VerifiedClientSecrets(MetadataCache<VerifiedClientSecrets.Mac> cache)
{
    private readonly byte[] key = RandomNumberGenerator.GetBytes(32);

    /// <summary>Read before verifying with PBKDF2 and passed to <see cref="Remember"/>.</summary>
    public long Version => cache.Version;

    public bool IsRemembered(string storedHash, string secret)
    {
        if (!cache.TryGet(storedHash, out var remembered))
        {
            return false;
        }

        Span<byte> presented = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Compute(secret, presented);
        return CryptographicOperations.FixedTimeEquals(presented, remembered.Value);
    }

    public void Remember(string storedHash, string secret, long verifiedAtVersion)
    {
        var mac = new byte[HMACSHA256.HashSizeInBytes];
        Compute(secret, mac);
        cache.Set(storedHash, new Mac(mac), verifiedAtVersion);
    }

    public void Clear() => cache.Clear();

    private void Compute(string secret, Span<byte> destination) =>
        HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(secret), destination);

    /// <summary>Its own type, so that no other <see cref="MetadataCache{TValue}"/> user shares these entries.</summary>
    public sealed record Mac(byte[] Value);
}
