using System.Security.Cryptography;
using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace IdentityServer.Keys;

/// <summary>Makes sure a current signing and encryption key exist in the database, then loads every published key.</summary>
internal sealed partial class KeyStore(
    ApplicationDbContext db,
    KeyRing ring,
    TimeProvider time,
    IOptions<KeyOptions> options,
    ILogger<KeyStore> logger)
{
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var keys = await db.SigningKeys.AsNoTracking()
            .Where(k => k.RetiresAt > now)
            .ToListAsync(cancellationToken);

        foreach (var use in new[] { KeyUses.Signing, KeyUses.Encryption })
        {
            if (!keys.Any(k => k.Use == use && k.ActivatesAt <= now && k.ExpiresAt > now))
            {
                var key = Create(use, now);
                db.SigningKeys.Add(key);
                keys.Add(key);
                LogKeyCreated(logger, key.Id, use);
            }
        }

        if (db.ChangeTracker.HasChanges())
        {
            await db.SaveChangesAsync(cancellationToken);
        }

        ring.Load(keys, now);
    }

    private SigningKey Create(string use, DateTimeOffset now)
    {
        using var rsa = RSA.Create(options.Value.RsaKeySize);
        var expires = now + options.Value.KeyLifetime;
        return new SigningKey
        {
            Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            Use = use,
            Algorithm = use == KeyUses.Signing ? "RS256" : "RSA-OAEP",
            PrivateKey = Convert.ToBase64String(rsa.ExportPkcs8PrivateKey()),
            CreatedAt = now,
            ActivatesAt = now,
            ExpiresAt = expires,
            RetiresAt = expires + options.Value.RetentionAfterExpiry,
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created {Use} key {KeyId}.")]
    private static partial void LogKeyCreated(ILogger logger, string keyId, string use);
}
