using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;
using OpenIddict.EntityFrameworkCore;
using OpenIddict.EntityFrameworkCore.Models;

namespace IdentityServer.Connect;

/// <summary>
/// OpenIddict's application manager with two changes for the token pipeline: clients are read by client_id from
/// <see cref="MetadataCache{TValue}"/> (OpenIddict's own cache lives for one request), and client secrets are
/// hashed as <see cref="ClientSecretHashing"/> describes (a PBKDF2-hashed one, once verified, is remembered for a
/// while by <see cref="VerifiedClientSecrets"/>). The admin API reads through
/// <see cref="FindByClientIdUncachedAsync"/>, so what an admin sees and edits is always the stored row.
/// </summary>
public sealed class ClientApplicationManager(
    IOpenIddictEntityFrameworkCoreContext storeContext,
    MetadataCache<OpenIddictEntityFrameworkCoreApplication> clientCache,
    VerifiedClientSecrets verifiedSecrets,
    IOpenIddictApplicationCache<OpenIddictEntityFrameworkCoreApplication> cache,
    ILogger<OpenIddictApplicationManager<OpenIddictEntityFrameworkCoreApplication>> logger,
    IOptionsMonitor<OpenIddictCoreOptions> options,
    IOpenIddictApplicationStore<OpenIddictEntityFrameworkCoreApplication> store)
    : OpenIddictApplicationManager<OpenIddictEntityFrameworkCoreApplication>(cache, logger, options, store)
{
    // The clients this request found, by client_id. OpenIddict looks a client up again at nearly every step of a request and throws
    // when a later step finds nothing where an earlier one found it: a 500, whenever this instance learnt of a deletion
    // (through RegistrationChanges, from another instance) between two steps. So a request sees each client as it first found it
    // (a manager lives for one request), and a deletion meanwhile is noticed by RefuseDeletedClient's look at the
    // current client, or by the database refusing rows that name it (TokenWrites).
    private Dictionary<string, OpenIddictEntityFrameworkCoreApplication>? foundThisRequest;

    /// <summary>A detached copy of the client, as this request first found it (from memory when it is there): read it, never update it.</summary>
    public override async ValueTask<OpenIddictEntityFrameworkCoreApplication?> FindByClientIdAsync(
        string identifier, CancellationToken cancellationToken = default) =>
        foundThisRequest?.GetValueOrDefault(identifier) is { } found
            ? Copy(found)
            : await FindCurrentByClientIdAsync(identifier, cancellationToken);

    /// <summary>The client as this instance knows it now (from memory when it is there), which the rest of the request then sees.</summary>
    public async ValueTask<OpenIddictEntityFrameworkCoreApplication?> FindCurrentByClientIdAsync(
        string identifier, CancellationToken cancellationToken = default)
    {
        if (!clientCache.TryGet(identifier, out var cached))
        {
            // Straight from the database, past OpenIddict's per-request cache and EF Core's tracked entities, either
            // of which could still hold what an admin changed a moment ago and would be kept here for minutes.
            var version = clientCache.Version;
            cached = await ReadStoredAsync(identifier, cancellationToken);
            if (cached is null)
            {
                foundThisRequest?.Remove(identifier);
                return null;
            }

            clientCache.Set(identifier, cached, version);
        }

        Remember(cached);
        return Copy(cached);
    }

    /// <summary>
    /// A secret the in-memory copy refuses is checked once against the stored client before it is refused: an admin
    /// may have rotated it through another instance, whose change clears only that instance's memory. The stored
    /// client then replaces the copy, so the old secret stops here too. (A wrong secret thus costs one database read.)
    /// </summary>
    public override async ValueTask<bool> ValidateClientSecretAsync(
        OpenIddictEntityFrameworkCoreApplication application, string secret, CancellationToken cancellationToken = default)
    {
        if (await base.ValidateClientSecretAsync(application, secret, cancellationToken))
        {
            return true;
        }

        if (application.ClientId is not { } clientId)
        {
            return false;
        }

        var version = clientCache.Version;
        var stored = await ReadStoredAsync(clientId, cancellationToken);
        if (stored is null || string.Equals(stored.ClientSecret, application.ClientSecret, StringComparison.Ordinal))
        {
            return false;
        }

        clientCache.Set(clientId, stored, version);
        Remember(stored);
        return await base.ValidateClientSecretAsync(Copy(stored), secret, cancellationToken);
    }

    /// <summary>The rest of this request sees the client as it is now.</summary>
    private void Remember(OpenIddictEntityFrameworkCoreApplication client) =>
        (foundThisRequest ??= new(StringComparer.Ordinal))[client.ClientId!] = client;

    public async ValueTask<OpenIddictEntityFrameworkCoreApplication?> FindByClientIdUncachedAsync(
        string identifier, CancellationToken cancellationToken = default)
    {
        // From the store, past OpenIddict's per-request cache too: a write retried after a concurrency conflict must
        // read the row again. As OpenIddict's own lookup does, an id the database's collation matched only loosely is
        // not this client.
        var application = await Store.FindByClientIdAsync(identifier, cancellationToken);
        return application is not null && string.Equals(application.ClientId, identifier, StringComparison.Ordinal) ? application : null;
    }

    // The descriptor and secret overloads of Create and Update end in these, so every change of a client passes here.
    public override async ValueTask CreateAsync(OpenIddictEntityFrameworkCoreApplication application, CancellationToken cancellationToken = default)
    {
        await RegistrationChanges.ChangeAsync(storeContext, () => base.CreateAsync(application, cancellationToken), ClearCaches, cancellationToken);
    }

    public override async ValueTask UpdateAsync(OpenIddictEntityFrameworkCoreApplication application, CancellationToken cancellationToken = default)
    {
        await RegistrationChanges.ChangeAsync(storeContext, () => base.UpdateAsync(application, cancellationToken), ClearCaches, cancellationToken);
    }

    public override async ValueTask DeleteAsync(OpenIddictEntityFrameworkCoreApplication application, CancellationToken cancellationToken = default)
    {
        await RegistrationChanges.ChangeAsync(storeContext, () => base.DeleteAsync(application, cancellationToken), ClearCaches, cancellationToken);
    }

    // Forgetting remembered secrets too, so that a secret retired by an admin does not linger in memory; here at once,
    // on the other instances at their next poll (RegistrationChanges).
    private void ClearCaches()
    {
        foundThisRequest = null;
        clientCache.Clear();
        verifiedSecrets.Clear();
    }

    protected override ValueTask<string> ObfuscateClientSecretAsync(string secret, CancellationToken cancellationToken = default) =>
        ClientSecretHashing.IsHighEntropy(secret)
            ? ValueTask.FromResult(ClientSecretHashing.HashSha256(secret))
            : base.ObfuscateClientSecretAsync(secret, cancellationToken);

    protected override async ValueTask<bool> ValidateClientSecretAsync(string secret, string comparand, CancellationToken cancellationToken = default)
    {
        if (comparand.StartsWith(ClientSecretHashing.Sha256Prefix, StringComparison.Ordinal))
        {
            return ClientSecretHashing.VerifySha256(secret, comparand);
        }

        if (verifiedSecrets.IsRemembered(comparand, secret))
        {
            return true;
        }

        var version = verifiedSecrets.Version;
        if (!await base.ValidateClientSecretAsync(secret, comparand, cancellationToken))
        {
            return false;
        }

        verifiedSecrets.Remember(comparand, secret, version);
        return true;
    }

    private async ValueTask<OpenIddictEntityFrameworkCoreApplication?> ReadStoredAsync(string clientId, CancellationToken cancellationToken)
    {
        var stored = await Store.GetAsync(
            static (applications, id) => applications.AsNoTracking().Where(application => application.ClientId == id),
            clientId, cancellationToken);
        return stored is not null && string.Equals(stored.ClientId, clientId, StringComparison.Ordinal) ? stored : null;
    }

    // Each caller gets its own detached copy, so nothing one request does to an entity reaches another.
    private static OpenIddictEntityFrameworkCoreApplication Copy(OpenIddictEntityFrameworkCoreApplication application) => new()
    {
        Id = application.Id,
        ApplicationType = application.ApplicationType,
        ClientId = application.ClientId,
        ClientSecret = application.ClientSecret,
        ClientType = application.ClientType,
        ConcurrencyToken = application.ConcurrencyToken,
        ConsentType = application.ConsentType,
        DisplayName = application.DisplayName,
        DisplayNames = application.DisplayNames,
        JsonWebKeySet = application.JsonWebKeySet,
        Permissions = application.Permissions,
        PostLogoutRedirectUris = application.PostLogoutRedirectUris,
        Properties = application.Properties,
        RedirectUris = application.RedirectUris,
        Requirements = application.Requirements,
        Settings = application.Settings,
    };
}

public static class ApplicationManagerExtensions
{
    /// <summary>The stored client, never a cached copy: for what an admin reads or changes.</summary>
    public static async ValueTask<object?> FindStoredByClientIdAsync(
        this IOpenIddictApplicationManager applications, string clientId, CancellationToken cancellationToken) =>
        await ((ClientApplicationManager)applications).FindByClientIdUncachedAsync(clientId, cancellationToken);

    /// <summary>The client as this instance knows it now, not as the request first found it: for a look just before tokens are made.</summary>
    public static async ValueTask<object?> FindCurrentByClientIdAsync(
        this IOpenIddictApplicationManager applications, string clientId, CancellationToken cancellationToken) =>
        await ((ClientApplicationManager)applications).FindCurrentByClientIdAsync(clientId, cancellationToken);

    /// <summary>
    /// Whether a save the database refused failed because the client was deleted meanwhile (its rows named it). The
    /// refused rows are dropped first, so that nothing saved later in the request writes them, and the client is then
    /// looked for in the database, not among the entities the request still tracks.
    /// </summary>
    public static async ValueTask<bool> WasDeletedAfterRefusedSaveAsync(
        this IOpenIddictApplicationManager applications, DbContext database, string clientId, CancellationToken cancellationToken)
    {
        database.ChangeTracker.Clear();
        return await applications.FindStoredByClientIdAsync(clientId, cancellationToken) is null;
    }
}
