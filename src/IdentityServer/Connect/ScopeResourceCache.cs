using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;
using OpenIddict.EntityFrameworkCore.Models;

namespace IdentityServer.Connect;

/// <summary>
/// The resources (token audiences) of each set of scopes, kept in memory: every token request needs them and
/// scopes change only through the admin API. This instance forgets everything at once when a scope is created,
/// changed or deleted; another instance on the same database notices within <see cref="Lifetime"/>.
/// </summary>
public sealed class ScopeResourceCache
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);
    private const int MaxEntries = 1024;

    private readonly ConcurrentDictionary<string, (string[] Resources, long ExpiresAt)> entries = new(StringComparer.Ordinal);
    private long version;

    public long Version => Interlocked.Read(ref version);

    public bool TryGet(string key, out string[] resources)
    {
        if (entries.TryGetValue(key, out var entry) && entry.ExpiresAt > Environment.TickCount64)
        {
            resources = entry.Resources;
            return true;
        }

        resources = [];
        return false;
    }

    /// <summary>Stores what was read under <paramref name="readAtVersion"/>, unless a scope changed meanwhile.</summary>
    public void Set(string key, string[] resources, long readAtVersion)
    {
        if (entries.Count >= MaxEntries)
        {
            entries.Clear();
        }

        entries[key] = (resources, Environment.TickCount64 + (long)Lifetime.TotalMilliseconds);
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
}

/// <summary>OpenIddict's scope manager with <see cref="ScopeResourceCache"/> in front of <c>ListResourcesAsync</c>.</summary>
public sealed class CachingScopeManager(
    ScopeResourceCache resourceCache,
    IOpenIddictScopeCache<OpenIddictEntityFrameworkCoreScope> cache,
    ILogger<OpenIddictScopeManager<OpenIddictEntityFrameworkCoreScope>> logger,
    IOptionsMonitor<OpenIddictCoreOptions> options,
    IOpenIddictScopeStore<OpenIddictEntityFrameworkCoreScope> store)
    : OpenIddictScopeManager<OpenIddictEntityFrameworkCoreScope>(cache, logger, options, store)
{
    public override async IAsyncEnumerable<string> ListResourcesAsync(
        ImmutableArray<string> scopes, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var key = string.Join(' ', scopes.Order(StringComparer.Ordinal));
        if (!resourceCache.TryGet(key, out var resources))
        {
            var version = resourceCache.Version;
            var read = new List<string>();
            await foreach (var resource in base.ListResourcesAsync(scopes, cancellationToken))
            {
                read.Add(resource);
            }

            resources = [.. read];
            resourceCache.Set(key, resources, version);
        }

        foreach (var resource in resources)
        {
            yield return resource;
        }
    }

    // The descriptor overloads of Create and Update end in these, so every change of a scope passes here.
    public override async ValueTask CreateAsync(OpenIddictEntityFrameworkCoreScope scope, CancellationToken cancellationToken = default)
    {
        await base.CreateAsync(scope, cancellationToken);
        resourceCache.Clear();
    }

    public override async ValueTask UpdateAsync(OpenIddictEntityFrameworkCoreScope scope, CancellationToken cancellationToken = default)
    {
        await base.UpdateAsync(scope, cancellationToken);
        resourceCache.Clear();
    }

    public override async ValueTask DeleteAsync(OpenIddictEntityFrameworkCoreScope scope, CancellationToken cancellationToken = default)
    {
        await base.DeleteAsync(scope, cancellationToken);
        resourceCache.Clear();
    }
}
