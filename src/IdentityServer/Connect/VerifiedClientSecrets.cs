using System.Security.Cryptography;
using System.Text;

namespace IdentityServer.Connect;

/// <summary>
/// Remembers, for <see cref="ConnectOptions.MetadataCacheDuration"/>, that a client secret a person chose (hashed
/// with PBKDF2, ~3 ms of CPU on purpose) has just been verified, so that a client calling the token endpoint many
/// times a second pays that cost once, not at every request. Only a secret that passed PBKDF2 is remembered, and
/// only as an HMAC under a key that never leaves this process: a wrong secret still costs a full PBKDF2 verify, so
/// guessing online is as slow as before. The entry is keyed by the stored hash, which a new secret replaces.
/// </summary>
public sealed class VerifiedClientSecrets(MetadataCache<byte[]> cache)
{
    private readonly byte[] key = RandomNumberGenerator.GetBytes(32);

    public bool IsRemembered(string storedHash, string secret)
    {
        if (!cache.TryGet(storedHash, out var remembered))
        {
            return false;
        }

        Span<byte> presented = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Mac(secret, presented);
        return CryptographicOperations.FixedTimeEquals(presented, remembered);
    }

    public void Remember(string storedHash, string secret)
    {
        var mac = new byte[HMACSHA256.HashSizeInBytes];
        Mac(secret, mac);
        cache.Set(storedHash, mac, cache.Version);
    }

    private void Mac(string secret, Span<byte> destination) =>
        HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(secret), destination);
}
