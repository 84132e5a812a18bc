using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;
using OpenIddict.EntityFrameworkCore;
using OpenIddict.EntityFrameworkCore.Models;

namespace IdentityServer.Connect;

/// <summary>
/// OpenIddict's scope manager reading scopes by name from <see cref="MetadataCache{TValue}"/>: every token and
/// authorization request validates its scopes and looks up their resources (audiences) this way, and discovery
/// lists their names (<see cref="ListNamesAsync"/>).
/// </summary>
public sealed partial class CachingScopeManager(
    IOpenIddictEntityFrameworkCoreContext storeContext,
    MetadataCache<OpenIddictEntityFrameworkCoreScope> scopeCache,
    MetadataCache<CachingScopeManager.ScopeNames> namesCache,
    IOpenIddictScopeCache<OpenIddictEntityFrameworkCoreScope> cache,
    ILogger<OpenIddictScopeManager<OpenIddictEntityFrameworkCoreScope>> logger,
    IOptionsMonitor<OpenIddictCoreOptions> options,
    IOpenIddictScopeStore<OpenIddictEntityFrameworkCoreScope> store)
    : OpenIddictScopeManager<OpenIddictEntityFrameworkCoreScope>(cache, logger, options, store)
{
    public override async IAsyncEnumerable<OpenIddictEntityFrameworkCoreScope> FindByNamesAsync(
        ImmutableArray<string> names, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        List<string>? missing = null;
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            // The standard scopes are never rows (the admin API refuses their names): looked up, they would miss the
            // cache and query the database at every authorization request that asks for openid or profile.
            if (StandardScopes.Registered.Contains(name))
            {
                continue;
            }

            if (scopeCache.TryGet(name, out var cached))
            {
                yield return Copy(cached);
            }
            else
            {
                (missing ??= []).Add(name);
            }
        }

        if (missing is null)
        {
            yield break;
        }

        // Straight from the database, past OpenIddict's per-request cache and EF Core's tracked entities, either of
        // which could still hold what an admin changed a moment ago and would be kept here for minutes.
        var version = scopeCache.Version;
        await foreach (var scope in Store.ListAsync(
            static (scopes, names) => scopes.AsNoTracking().Where(scope => names.Contains(scope.Name!)),
            missing, cancellationToken))
        {
            if (scope.Name is not null && missing.Contains(scope.Name, StringComparer.Ordinal))
            {
                scopeCache.Set(scope.Name, scope, version);
                yield return Copy(scope);
            }
        }
    }

    /// <summary>The names of every stored scope, for discovery's <c>scopes_supported</c>.</summary>
    public async ValueTask<ImmutableArray<string>> ListNamesAsync(CancellationToken cancellationToken)
    {
        const string key = "";
        if (namesCache.TryGet(key, out var cached))
        {
            return cached.Names;
        }

        var version = namesCache.Version;
        var names = ImmutableArray.CreateBuilder<string>();
        try
        {
            await foreach (var name in Store.ListAsync(
                static (scopes, _) => scopes.AsNoTracking().Where(scope => scope.Name != null && scope.Name != "").Select(scope => scope.Name!),
                state: (object?)null, cancellationToken))
            {
                names.Add(name);
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The database is unreachable: discovery goes on with the last list read, as the JWKS goes on with the keys
            // in memory, so that an API starting now can still validate tokens; an instance that never read it lists
            // the built-in scopes alone rather than failing discovery.
            LogStaleScopeNames(Logger, exception.GetType().Name);
            if (!namesCache.TryGetExpired(key, out var stale))
            {
                return [];
            }

            // Kept a few seconds, so that the next requests do not each wait on the database, and read again soon after
            // it answers (the list may have changed meanwhile).
            namesCache.Set(key, stale, version, keepFor: StaleListKeptFor);
            return stale.Names;
        }

        var listed = new ScopeNames(names.ToImmutable());
        namesCache.Set(key, listed, version);
        return listed.Names;
    }

    private static readonly TimeSpan StaleListKeptFor = TimeSpan.FromSeconds(5);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Discovery lists the scopes last read (the built-in ones alone if none was read yet): reading them failed ({Failure}).")]
    private static partial void LogStaleScopeNames(ILogger logger, string failure);

    /// <summary>
    /// The stored scope, past this cache and OpenIddict's per-request one: what an admin reads or changes (a write
    /// retried after a concurrency conflict must read the row again).
    /// </summary>
    public async ValueTask<OpenIddictEntityFrameworkCoreScope?> FindStoredByNameAsync(string name, CancellationToken cancellationToken)
    {
        var scope = await Store.FindByNameAsync(name, cancellationToken);
        return scope is not null && string.Equals(scope.Name, name, StringComparison.Ordinal) ? scope : null;
    }

    // The descriptor overloads of Create and Update end in these, so every change of a scope passes here.
    public override async ValueTask CreateAsync(OpenIddictEntityFrameworkCoreScope scope, CancellationToken cancellationToken = default)
    {
        await RegistrationChanges.ChangeAsync(storeContext, () => base.CreateAsync(scope, cancellationToken), ClearCaches, cancellationToken);
    }

    public override async ValueTask UpdateAsync(OpenIddictEntityFrameworkCoreScope scope, CancellationToken cancellationToken = default)
    {
        await RegistrationChanges.ChangeAsync(storeContext, () => base.UpdateAsync(scope, cancellationToken), ClearCaches, cancellationToken);
    }

    public override async ValueTask DeleteAsync(OpenIddictEntityFrameworkCoreScope scope, CancellationToken cancellationToken = default)
    {
        await RegistrationChanges.ChangeAsync(storeContext, () => base.DeleteAsync(scope, cancellationToken), ClearCaches, cancellationToken);
    }

    public sealed record ScopeNames(ImmutableArray<string> Names);

    // Here at once, on the other instances at their next poll (RegistrationChanges).
    private void ClearCaches()
    {
        scopeCache.Clear();
        // Read again at the next request, but kept as discovery's fallback should the database be out by then.
        namesCache.Expire();
    }

    // Each caller gets its own detached copy, so nothing one request does to an entity reaches another.
    private static OpenIddictEntityFrameworkCoreScope Copy(OpenIddictEntityFrameworkCoreScope scope) => new()
    {
        Id = scope.Id,
        Name = scope.Name,
        ConcurrencyToken = scope.ConcurrencyToken,
        Description = scope.Description,
        Descriptions = scope.Descriptions,
        DisplayName = scope.DisplayName,
        DisplayNames = scope.DisplayNames,
        Properties = scope.Properties,
        Resources = scope.Resources,
    };
}

public static class ScopeManagerExtensions
{
    /// <summary>The stored scope, never a cached copy: for what an admin reads or changes.</summary>
    public static async ValueTask<object?> FindStoredByNameAsync(
        this IOpenIddictScopeManager scopes, string name, CancellationToken cancellationToken) =>
        await ((CachingScopeManager)scopes).FindStoredByNameAsync(name, cancellationToken);
}
