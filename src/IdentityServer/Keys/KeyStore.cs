using System.Security.Cryptography;
using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace IdentityServer.Keys;

/// <summary>
/// Keeps the key table in shape and loads it: of each rotated use, a key that signs (or encrypts) now, the next one
/// published ahead of its turn, and retired keys kept until every token they protected has expired.
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
        var now = time.GetUtcNow();
        await DeleteRetiredAsync(now, cancellationToken);
        var keys = await LoadPublishedAsync(now, cancellationToken);
        await KeepForTheConfiguredRetentionAsync(keys, cancellationToken);
        if (NeedsNewKeys(keys, now))
        {
            // Instances sharing the database must not each create a key: the first takes a lock on the key table,
            // the others wait, then see its keys and create nothing.
            var strategy = db.Database.CreateExecutionStrategy();
            keys = await strategy.ExecuteAsync(async () =>
            {
                db.ChangeTracker.Clear();
                await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
                await LockKeyTableAsync(cancellationToken);
                var locked = await LoadPublishedAsync(now, cancellationToken);
                AddMissingKeys(locked, now);
                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return locked;
            });
        }

        ring.Load(keys, now);
    }

    /// <summary>
    /// A key's retirement was computed from the retention configured when it was made. An operator who raises
    /// <c>Keys:RetentionAfterExpiry</c> (with the token lifetimes it must cover) keeps the keys already published that
    /// much longer too, or live tokens they protect would be refused before they expire. Only keys not yet retired
    /// are loaded here, so an early retirement (<c>RetiresAt</c> set in the past) stands.
    /// </summary>
    private async Task KeepForTheConfiguredRetentionAsync(List<SigningKey> keys, CancellationToken cancellationToken)
    {
        var retention = options.Value.RetentionAfterExpiry;
        var shortened = keys.Where(k => k.RetiresAt < k.ExpiresAt + retention).ToList();
        if (shortened.Count == 0)
        {
            return;
        }

        foreach (var key in shortened)
        {
            key.RetiresAt = key.ExpiresAt + retention;
            db.SigningKeys.Attach(key).Property(k => k.RetiresAt).IsModified = true;
        }

        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
    }

    /// <summary>
    /// A retired key protects no live token and is no longer published: its private key is deleted rather than kept
    /// in the database for ever, where a leaked backup would still hold it (Duende deletes retired keys too).
    /// </summary>
    private async Task DeleteRetiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var deleted = await SqliteWriteGate.WriteAsync(db, aborted =>
            db.SigningKeys.Where(k => k.RetiresAt <= now).ExecuteDeleteAsync(aborted), cancellationToken);
        if (deleted > 0)
        {
            LogRetiredKeysDeleted(logger, deleted);
        }
    }

    private Task<List<SigningKey>> LoadPublishedAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        db.SigningKeys.AsNoTracking().Where(k => k.RetiresAt > now).ToListAsync(cancellationToken);

    private bool NeedsNewKeys(List<SigningKey> keys, DateTimeOffset now) =>
        KeyUses.Rotated.Any(use => Current(keys, use, now) is not { } current || NeedsSuccessor(keys, current, now));

    private void AddMissingKeys(List<SigningKey> keys, DateTimeOffset now)
    {
        foreach (var use in KeyUses.Rotated)
        {
            var current = Current(keys, use, now);
            if (current is null)
            {
                current = Create(use, now);
                keys.Add(current);
            }

            if (NeedsSuccessor(keys, current, now))
            {
                keys.Add(Create(use, current.ExpiresAt));
            }
        }
    }

    private static SigningKey? Current(List<SigningKey> keys, string use, DateTimeOffset now) =>
        keys.Where(k => k.Use == use && KeyRing.IsActive(k, now)).MaxBy(k => k.ExpiresAt);

    // The successor is published PublishAhead before the current key stops signing.
    private bool NeedsSuccessor(List<SigningKey> keys, SigningKey current, DateTimeOffset now) =>
        current.ExpiresAt - now <= options.Value.PublishAhead
        && !keys.Any(k => k.Use == current.Use && k.ActivatesAt >= current.ExpiresAt);

    /// <summary>Holds other writers of the key table off until this transaction ends.</summary>
    private Task LockKeyTableAsync(CancellationToken cancellationToken)
    {
        if (db.Database.IsNpgsql())
        {
            return db.Database.ExecuteSqlRawAsync("LOCK TABLE \"SigningKeys\" IN SHARE ROW EXCLUSIVE MODE", cancellationToken);
        }

        if (db.Database.IsSqlServer())
        {
            return db.Database.ExecuteSqlRawAsync("SELECT TOP 0 1 FROM [SigningKeys] WITH (TABLOCKX, HOLDLOCK)", cancellationToken);
        }

        // SQLite: the transaction began with BEGIN IMMEDIATE, which already excludes other writers.
        return Task.CompletedTask;
    }

    private SigningKey Create(string use, DateTimeOffset activatesAt)
    {
        var settings = options.Value;
        var expires = activatesAt + settings.KeyLifetime;
        var key = new SigningKey
        {
            Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            Use = use,
            Algorithm = use switch
            {
                KeyUses.Signing => "RS256",
                KeyUses.HmacSigning => "HS256",
                KeyUses.KeyWrap => "A256KW",
                _ => throw new ArgumentOutOfRangeException(nameof(use), use, "Keys of this use are no longer created."),
            },
            PrivateKey = KeyUses.IsSymmetric(use)
                ? Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
                : NewRsaKey(settings.RsaKeySize),
            CreatedAt = time.GetUtcNow(),
            ActivatesAt = activatesAt,
            ExpiresAt = expires,
            RetiresAt = expires + settings.RetentionAfterExpiry,
        };
        db.SigningKeys.Add(key);
        LogKeyCreated(logger, key.Id, use, activatesAt);
        return key;
    }

    private static string NewRsaKey(int size)
    {
        using var rsa = RSA.Create(size);
        return Convert.ToBase64String(rsa.ExportPkcs8PrivateKey());
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} retired key(s).")]
    private static partial void LogRetiredKeysDeleted(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created {Use} key {KeyId}, active from {ActivatesAt}.")]
    private static partial void LogKeyCreated(ILogger logger, string keyId, string use, DateTimeOffset activatesAt);
}
