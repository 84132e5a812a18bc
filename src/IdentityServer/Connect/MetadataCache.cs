using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace IdentityServer.Connect;

/// <summary>
/// What every token request would otherwise read from the database or compute again, kept in memory for
/// <see cref="ConnectOptions.MetadataCacheDuration"/>: client and scope registrations, the scope names discovery
/// lists, verified client secrets. They change only through the admin API. A change made on this instance forgets
/// every entry at once (<see cref="Clear"/>); other instances on the same database read theirs again after their next
/// <see cref="RegistrationChanges"/> poll, about a second later (<see cref="Expire"/>). Clients and scopes are kept only when found, so one
/// registered on another instance works there at once.
/// </summary>
public sealed class MetadataCache<TValue> where TValue : class
{
    public MetadataCache(IOptions<ConnectOptions> options, TimeProvider time, RegistrationChanges? changes = null)
    {
        this.time = time;
        lifetime = options.Value.MetadataCacheDuration;
        changes?.OnChange(Expire);
    }

    private readonly TimeProvider time;

    // A bound on memory for requests naming many different scope sets; hitting it only costs a re-read.
    private const int MaxEntries = 4096;

    private readonly ConcurrentDictionary<string, (TValue Value, DateTimeOffset ExpiresAt)> entries = new(StringComparer.Ordinal);
    private readonly TimeSpan lifetime;
    private long version;

    /// <summary>Read before loading from the database and passed to <see cref="Set"/>.</summary>
    public long Version => Interlocked.Read(ref version);

    public bool TryGet(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TValue? value)
    {
        if (entries.TryGetValue(key, out var entry) && entry.ExpiresAt > time.GetUtcNow())
        {
            value = entry.Value;
            return true;
        }

        value = null;
        return false;
    }

    /// <summary>What was last kept under the key, however old or expired (none after <see cref="Clear"/>).</summary>
    public bool TryGetExpired(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TValue? value)
    {
        value = entries.TryGetValue(key, out var entry) ? entry.Value : null;
        return value is not null;
    }

    /// <summary>
    /// Keeps what was read under <paramref name="readAtVersion"/>, unless a change landed meanwhile, for the cache
    /// duration or the shorter <paramref name="keepFor"/>.
    /// </summary>
    public void Set(string key, TValue value, long readAtVersion, TimeSpan? keepFor = null)
    {
        if (lifetime <= TimeSpan.Zero)
        {
            return;
        }

        if (entries.Count >= MaxEntries)
        {
            entries.Clear();
        }

        entries[key] = (value, time.GetUtcNow() + (keepFor is { } shorter && shorter < lifetime ? shorter : lifetime));
        if (Version != readAtVersion)
        {
            entries.TryRemove(key, out _);
        }
    }

    public void Clear()
    {
        Interlocked.Increment(ref version);
        entries.Clear();
    }

    /// <summary>
    /// Makes every entry be read again, as <see cref="Clear"/> does, but keeps it for <see cref="TryGetExpired"/>: a
    /// change made through another instance may not concern it, and discovery falls back on it if the database is out.
    /// </summary>
    public void Expire()
    {
        Interlocked.Increment(ref version);
        foreach (var (key, entry) in entries)
        {
            entries.TryUpdate(key, (entry.Value, DateTimeOffset.MinValue), entry);
        }
    }
}
