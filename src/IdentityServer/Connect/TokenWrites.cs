using System.Runtime.CompilerServices;
using IdentityServer.Persistence;
using IdentityServer.Users;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore;
using OpenIddict.EntityFrameworkCore.Models;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// The token rows one sign-in writes, saved together at its end. A refresh marks its token redeemed and adds two new
/// tokens, and OpenIddict saved each on its own: three transactions, three turns at SQLite's single writer, three
/// commits PostgreSQL flushes to disk. Held back until the sign-in has generated every token, they are saved in one
/// transaction. The redemption's concurrency check (<see cref="RedeemTokenOnce"/>) runs in that transaction, so the
/// loser of a race for one code or refresh token writes nothing; a sign-in refused part-way drops what it held back.
/// </summary>
internal sealed class TokenWrites
{
    public bool Deferring { get; private set; }

    // The context holding rows back, once one is: a sign-in that writes no row (client_credentials) rents none.
    private DbContext? holder;

    /// <summary>The code, refresh token, device code or user code this sign-in redeems, if it redeems one.</summary>
    public Redemption? Redeeming { get; set; }

    internal sealed record Redemption(string TokenId, string? AuthorizationId, string Kind);

    /// <summary>
    /// The user a <c>password</c> grant found allowed to sign in (or a code or refresh redemption issuing an admin
    /// token), read again once its tokens are saved. That grant redeems no row an admin's revocation would also touch
    /// (nor does removing the admin role touch the code or refresh token redeemed), so a revocation that ran between
    /// the check and the save misses its tokens; the admin API revokes once more after committing a change, so of the
    /// two reads here and there, one sees the other's write.
    /// </summary>
    public Users.UserWithRoles? CheckedUser { get; set; }

    /// <summary>Ends the sign-in's holding back; returns the context holding rows, if any.</summary>
    private DbContext? StopHolding()
    {
        Deferring = false;
        var held = holder;
        holder = null;
        return held;
    }

    /// <summary>From the start of a sign-in, token rows wait for <see cref="Commit"/>.</summary>
    internal sealed class Begin(TokenWrites writes) : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .AddFilter<OpenIddictServerHandlerFilters.RequireTokenStorageEnabled>()
                .UseScopedHandler<Begin>()
                .SetOrder(OpenIddictServerHandlers.ValidateSignInDemand.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ProcessSignInContext context)
        {
            writes.Deferring = true;
            return default;
        }
    }

    /// <summary>Once every token of the sign-in exists, saves their rows and the redemption in one SaveChanges.</summary>
    internal sealed class Commit(TokenWrites writes, IServiceProvider services, ILogger<Commit> logger)
        : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .AddFilter<OpenIddictServerHandlerFilters.RequireTokenStorageEnabled>()
                .UseScopedHandler<Commit>()
                // After the last token is generated, before the response is built from them.
                .SetOrder(OpenIddictServerHandlers.GenerateIdentityToken.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (!writes.Deferring || writes.StopHolding() is not { } database)
            {
                return;
            }

            var saved = writes.CheckedUser is null
                ? []
                : database.ChangeTracker.Entries<OpenIddictEntityFrameworkCoreToken>()
                    .Where(entry => entry.State == EntityState.Added).Select(entry => entry.Entity).ToList();
            try
            {
                await database.SaveChangesAsync(context.CancellationToken);
                if (writes.CheckedUser is { } checkedUser && await ChangedSinceCheckedAsync(database, checkedUser, context.CancellationToken))
                {
                    var tokens = services.GetRequiredService<IOpenIddictTokenManager>();
                    foreach (var token in saved)
                    {
                        await tokens.TryRevokeAsync(token, CancellationToken.None);
                    }

                    context.Reject(OpenIddictConstants.Errors.InvalidGrant, "The user is no longer allowed to sign in.");
                }
            }
            catch (DbUpdateException exception) when (writes.Redeeming is { } lost)
            {
                // The transaction wrote nothing. Either another request redeemed or revoked the same code or refresh
                // token first (the conditional UPDATE matched no row), or the token went with its client, grant or user
                // (deleted by an admin while this request ran: the new rows then break a foreign key). Anything else
                // is a real failure.
                database.ChangeTracker.Clear();
                if (exception is not DbUpdateConcurrencyException
                    && await database.Set<OpenIddictEntityFrameworkCoreToken>().AsNoTracking()
                        .AnyAsync(token => token.Id == lost.TokenId, context.CancellationToken))
                {
                    throw;
                }

                // Resolved here only: the token manager is needed on this rare path, not by every sign-in.
                var tokens = services.GetRequiredService<IOpenIddictTokenManager>();
                await RedeemTokenOnce.RefuseConcurrentRedemptionAsync(context, tokens, logger, lost);
            }
            catch (DbUpdateException) when (writes.Redeeming is null && context.ClientId is { Length: > 0 })
            {
                // A password grant or an authorization request whose client an admin deleted while it ran: its rows
                // name the deleted client and broke a foreign key, so nothing was written. Refused as a refresh is in
                // that case (an authorization request as for an unknown client), not a 500.
                if (!await services.GetRequiredService<IOpenIddictApplicationManager>()
                        .WasDeletedAfterRefusedSaveAsync(database, context.ClientId, context.CancellationToken))
                {
                    throw;
                }

                if (context.EndpointType is OpenIddictServerEndpointType.Authorization)
                {
                    RefuseDeletedClient.Refuse(context);
                    return;
                }

                context.Reject(OpenIddictConstants.Errors.InvalidGrant, "The client was deleted while this request was being handled.");
            }
        }
    }

    private static async Task<bool> ChangedSinceCheckedAsync(DbContext database, Users.UserWithRoles checkedUser, CancellationToken cancellationToken)
    {
        var now = await ((Persistence.ApplicationDbContext)database).FindUserWithRolesAsync(checkedUser.User.Id, cancellationToken);
        return now is null
            || !now.User.Enabled
            || !string.Equals(now.User.SecurityStamp, checkedUser.User.SecurityStamp, StringComparison.Ordinal)
            || !now.Roles.Order(StringComparer.Ordinal).SequenceEqual(checkedUser.Roles.Order(StringComparer.Ordinal), StringComparer.Ordinal);
    }

    /// <summary>
    /// A sign-in refused part-way (or its request failed) drops the rows it held back, so that nothing saved later in
    /// the same request writes them: a code or refresh token stays unredeemed when no token was issued for it.
    /// </summary>
    internal sealed class Abandon(TokenWrites writes) : IOpenIddictServerHandler<ProcessErrorContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessErrorContext>()
                .UseScopedHandler<Abandon>()
                .SetOrder(int.MinValue + 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ProcessErrorContext context)
        {
            writes.Redeeming = null;
            if (writes.StopHolding() is { } database)
            {
                foreach (var entry in database.ChangeTracker.Entries<OpenIddictEntityFrameworkCoreToken>().ToList())
                {
                    if (entry.State is EntityState.Added or EntityState.Modified)
                    {
                        entry.State = EntityState.Detached;
                    }
                }
            }

            return default;
        }
    }

    /// <summary>
    /// OpenIddict's token store, minus the SaveChanges while a sign-in holds its writes back, with its lookup by id
    /// compiled once, and with revocations that give each revoked row a new concurrency token.
    /// </summary>
    internal sealed class Store(
        IMemoryCache cache,
        IOpenIddictEntityFrameworkCoreContext context,
        IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions> options,
        TokenWrites writes) : OpenIddictEntityFrameworkCoreTokenStore(cache, context, options)
    {
        public override async ValueTask CreateAsync(OpenIddictEntityFrameworkCoreToken token, CancellationToken cancellationToken)
        {
            if (!writes.Deferring)
            {
                await base.CreateAsync(token, cancellationToken);
                return;
            }

            (await HoldAsync(token, cancellationToken)).Add(token);
        }

        public override async ValueTask UpdateAsync(OpenIddictEntityFrameworkCoreToken token, CancellationToken cancellationToken)
        {
            if (!writes.Deferring)
            {
                await base.UpdateAsync(token, cancellationToken);
                return;
            }

            var database = await HoldAsync(token, cancellationToken);
            var state = database.Entry(token).State;
            if (state is EntityState.Added)
            {
                // Not written yet (a code getting its payload): its INSERT at the commit carries the change.
                return;
            }

            // As the base store: the row is updated only if nobody changed it since it was read (UPDATE ... WHERE
            // ConcurrencyToken = the value read), now checked at the commit. A tracked entry (the token being
            // redeemed) is left to change tracking, so the UPDATE sets the columns that changed (status, redemption
            // date, concurrency token) instead of all of them, and SQLite rewrites one of the table's indexes, not all.
            if (state is EntityState.Detached)
            {
                database.Attach(token);
                token.ConcurrencyToken = Guid.NewGuid().ToString();
                database.Update(token);
                return;
            }

            token.ConcurrencyToken = Guid.NewGuid().ToString();
        }

        /// <summary>
        /// As the base store: a token this request already tracks, else the row with its client and grant, tracked (a
        /// redemption updates it). The base builds the LINQ query at every call, and EF Core then extracts its parameter
        /// and looks it up in its query cache: every userinfo, introspection and refresh request pays that.
        /// </summary>
        public override async ValueTask<OpenIddictEntityFrameworkCoreToken?> FindByIdAsync(string identifier, CancellationToken cancellationToken)
        {
            ArgumentException.ThrowIfNullOrEmpty(identifier);
            var database = await Context.GetDbContextAsync(cancellationToken);
            foreach (var entry in database.ChangeTracker.Entries<OpenIddictEntityFrameworkCoreToken>())
            {
                if (string.Equals(entry.Entity.Id, identifier, StringComparison.Ordinal))
                {
                    return entry.Entity;
                }
            }

            // A compiled query belongs to one model; a process normally has one, test hosts may have several.
            return await TokenByIdQueries.GetValue(database.Model, _ => EF.CompileAsyncQuery(
                    (DbContext db, string id, CancellationToken cancel) => db.Set<OpenIddictEntityFrameworkCoreToken>()
                        .Include(token => token.Application)
                        .Include(token => token.Authorization)
                        .AsTracking()
                        .FirstOrDefault(token => token.Id == id)))
                (database, identifier, cancellationToken);
        }

        private static readonly ConditionalWeakTable<IModel, Func<DbContext, string, CancellationToken, Task<OpenIddictEntityFrameworkCoreToken?>>>
            TokenByIdQueries = new();

        // OpenIddict's revocations (reuse of a redeemed token, disabling or deleting a user or a client, revoking a
        // grant) set only the status, in one UPDATE. A redemption already past its checks would still win: its UPDATE is
        // conditioned on the ConcurrencyToken it read, which stayed as it was, so it would overwrite "revoked" and
        // issue fresh tokens from a chain just revoked. A new ConcurrencyToken makes that redemption lose instead.
        public override async ValueTask<long> RevokeAsync(
            string? subject, string? client, string? status, string? type, CancellationToken cancellationToken)
        {
            var tokens = await TokensAsync(cancellationToken);
            if (!string.IsNullOrEmpty(subject))
            {
                tokens = tokens.Where(token => token.Subject == subject);
            }

            if (!string.IsNullOrEmpty(client))
            {
                tokens = tokens.Where(token => token.Application!.Id == client);
            }

            if (!string.IsNullOrEmpty(status))
            {
                tokens = tokens.Where(token => token.Status == status);
            }

            if (!string.IsNullOrEmpty(type))
            {
                tokens = tokens.Where(token => token.Type == type);
            }

            return await RevokeAllAsync(tokens, cancellationToken);
        }

        public override async ValueTask<long> RevokeByApplicationIdAsync(string identifier, CancellationToken cancellationToken)
        {
            ArgumentException.ThrowIfNullOrEmpty(identifier);
            var tokens = await TokensAsync(cancellationToken);
            return await RevokeAllAsync(tokens.Where(token => token.Application!.Id == identifier), cancellationToken);
        }

        public override async ValueTask<long> RevokeByAuthorizationIdAsync(string identifier, CancellationToken cancellationToken)
        {
            ArgumentException.ThrowIfNullOrEmpty(identifier);
            var tokens = await TokensAsync(cancellationToken);
            return await RevokeAllAsync(tokens.Where(token => token.Authorization!.Id == identifier), cancellationToken);
        }

        public override async ValueTask<long> RevokeBySubjectAsync(string subject, CancellationToken cancellationToken)
        {
            ArgumentException.ThrowIfNullOrEmpty(subject);
            var tokens = await TokensAsync(cancellationToken);
            return await RevokeAllAsync(tokens.Where(token => token.Subject == subject), cancellationToken);
        }

        private async ValueTask<IQueryable<OpenIddictEntityFrameworkCoreToken>> TokensAsync(CancellationToken cancellationToken) =>
            (await Context.GetDbContextAsync(cancellationToken)).Set<OpenIddictEntityFrameworkCoreToken>();

        /// <remarks>
        /// On PostgreSQL and SQL Server the UPDATE runs twice. A sign-in racing it (a refresh, a code redemption) updates
        /// the token it redeems, which this UPDATE matches too: if the sign-in got there first, the UPDATE waits for its
        /// commit, but under read committed it still does not see the rows that commit inserted (its snapshot is older),
        /// so the fresh tokens of a chain being revoked would stay valid. The second UPDATE starts after that commit and
        /// takes them. SQLite lets one writer at a time, so the sign-in committed wholly before or after the first.
        /// </remarks>
        private async Task<int> RevokeAllAsync(IQueryable<OpenIddictEntityFrameworkCoreToken> tokens, CancellationToken cancellationToken)
        {
            var database = await Context.GetDbContextAsync(cancellationToken);
            var concurrencyToken = Guid.NewGuid().ToString();
            Task<int> RevokeAsync(CancellationToken aborted) => tokens
                .Where(token => token.Status != OpenIddictConstants.Statuses.Revoked)
                .ExecuteUpdateAsync(token => token
                    .SetProperty(t => t.Status, OpenIddictConstants.Statuses.Revoked)
                    .SetProperty(t => t.ConcurrencyToken, concurrencyToken), aborted);

            var revoked = await SqliteWriteGate.WriteAsync(database, RevokeAsync, cancellationToken);
            return database.Database.IsSqlite() ? revoked : revoked + await RevokeAsync(cancellationToken);
        }

        /// <summary>The context that will save the row at the commit.</summary>
        private async ValueTask<DbContext> HoldAsync(OpenIddictEntityFrameworkCoreToken token, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(token);
            var database = await Context.GetDbContextAsync(cancellationToken);
            writes.holder = database;
            return database;
        }
    }
}
