using System.Security.Cryptography;
using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace IdentityServer.Keys;

/// <summary>
/// Keeps the key table in shape and loads it: a key that signs now, the next one published ahead of its turn,
/// and retired keys kept until every token they signed has expired.
/// </summary>
internal sealed partial class KeyStore(
    ApplicationDbContext db,
    KeyRing ring,
    TimeProvider time,
    IOptions<KeyOptions> options,
    ILogger<KeyStore> logger)
{
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = time.GetUtcNow();
        var keys = await db.SigningKeys.AsNoTracking()
            .Where(k => k.RetiresAt > now)
            .ToListAsync(cancellationToken);

        foreach (var use in new[] { KeyUses.Signing, KeyUses.Encryption })
        {
            var current = keys
                .Where(k => k.Use == use && k.ActivatesAt <= now && k.ExpiresAt > now)
                .MaxBy(k => k.ExpiresAt);
            if (current is null)
            {
                current = Create(use, now);
                keys.Add(current);
            }

            // The successor is published PublishAhead before the current key stops signing.
            if (current.ExpiresAt - now <= settings.PublishAhead && !keys.Any(k => k.Use == use && k.ActivatesAt >= current.ExpiresAt))
            {
                keys.Add(Create(use, current.ExpiresAt));
            }
        }

        if (db.ChangeTracker.HasChanges())
        {
            await db.SaveChangesAsync(cancellationToken);
        }

        ring.Load(keys, now);
    }

    private SigningKey Create(string use, DateTimeOffset activatesAt)
    {
        var settings = options.Value;
        using var rsa = RSA.Create(settings.RsaKeySize);
        var expires = activatesAt + settings.KeyLifetime;
        var key = new SigningKey
        {
            Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            Use = use,
            Algorithm = use == KeyUses.Signing ? "RS256" : "RSA-OAEP",
            PrivateKey = Convert.ToBase64String(rsa.ExportPkcs8PrivateKey()),
            CreatedAt = time.GetUtcNow(),
            ActivatesAt = activatesAt,
            ExpiresAt = expires,
            RetiresAt = expires + settings.RetentionAfterExpiry,
        };
        db.SigningKeys.Add(key);
        LogKeyCreated(logger, key.Id, use, activatesAt);
        return key;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created {Use} key {KeyId}, active from {ActivatesAt}.")]
    private static partial void LogKeyCreated(ILogger logger, string keyId, string use, DateTimeOffset activatesAt);
}
