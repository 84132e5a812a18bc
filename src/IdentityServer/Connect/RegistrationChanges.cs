using System.Runtime.CompilerServices;
using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using OpenIddict.EntityFrameworkCore;

namespace IdentityServer.Connect;

/// <summary>The one row every instance on the database reads to learn that a client or a scope changed.</summary>
public sealed class RegistrationVersion
{
    public const int RowId = 1;

    public int Id { get; set; }

    public long Version { get; set; }
}

/// <summary>
/// Tells every instance sharing the database that a client or a scope changed, so that each forgets its
/// <see cref="MetadataCache{TValue}"/> entries within about a second, not at the end of
/// <see cref="ConnectOptions.MetadataCacheDuration"/>: a rotated secret, a deleted client or a withdrawn scope must stop
/// working on every instance at once, as in a Keycloak cluster. A change counts up the version row (in the change's
/// transaction when there is one); each instance reads that row every <see cref="PollInterval"/> (one primary-key
/// read) and expires its caches when it moved.
/// </summary>
public sealed partial class RegistrationChanges(
    IServiceScopeFactory scopes,
    IOptions<ConnectOptions> options,
    TimeProvider time,
    ILogger<RegistrationChanges> logger) : BackgroundService
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private readonly Lock subscribers = new();
    private Action? clearCaches;
    private long? lastSeen;
    private bool failing;
    private Task? firstWait;
    private TaskCompletionSource nextPoll = NewPoll();

    /// <summary>Registers what to clear when another instance changed a client or a scope.</summary>
    public void OnChange(Action clear)
    {
        lock (subscribers)
        {
            clearCaches += clear;
        }
    }

    /// <summary>Completes when the next poll has finished, so that the tests can wait for it instead of guessing.</summary>
    public Task NextPollAsync() => Volatile.Read(ref nextPoll).Task;

    /// <summary>
    /// A client or scope written through OpenIddict's manager (<paramref name="change"/>), with the version's count and
    /// this instance's caches cleared (<paramref name="clearHere"/>, whatever happens). Inside a transaction the version
    /// row is written first, so that every transaction locks it before the rows it changes (a scope's delete edits
    /// several clients: with the version last, two of them could deadlock) and the commit makes both visible at once.
    /// Outside one it is written after the change is saved, so another instance never re-reads before the change is
    /// there; and not cancelled by the caller, the change being made. The context is resolved only here, for a write: a
    /// token request reads clients and scopes from memory and needs none.
    /// </summary>
    public static async ValueTask ChangeAsync(
        IOpenIddictEntityFrameworkCoreContext storeContext, Func<ValueTask> change, Action clearHere, CancellationToken cancellationToken)
    {
        try
        {
            var db = (ApplicationDbContext)await storeContext.GetDbContextAsync(cancellationToken);
            var inTransaction = db.Database.CurrentTransaction is not null;
            if (inTransaction)
            {
                await CountUpAsync(db);
            }

            await change();
            if (!inTransaction)
            {
                await CountUpAsync(db);
            }
        }
        finally
        {
            clearHere();   // even when counting the version up failed after the change was saved
        }
    }

    /// <summary>
    /// Counts the version up now; inside a transaction, before the rows it will change (see <see cref="ChangeAsync"/>),
    /// and once: the commit shows one change however many rows it made.
    /// </summary>
    internal static async Task CountUpAsync(ApplicationDbContext db)
    {
        var transaction = db.Database.CurrentTransaction;
        if (transaction is not null && CountedTransactions.TryGetValue(transaction, out _))
        {
            return;
        }

        await SqliteWriteGate.WriteAsync(db, aborted => db.RegistrationVersions
            .Where(row => row.Id == RegistrationVersion.RowId)
            .ExecuteUpdateAsync(set => set.SetProperty(row => row.Version, row => row.Version + 1), aborted), CancellationToken.None);
        if (transaction is not null)
        {
            CountedTransactions.AddOrUpdate(transaction, Counted);
        }
    }

    private static readonly ConditionalWeakTable<IDbContextTransaction, object> CountedTransactions = new();
    private static readonly object Counted = new();

    /// <summary>Whatever this instance keeps is read again (a change seen in the version, or committed through it).</summary>
    public void ExpireHere()
    {
        Action? clear;
        lock (subscribers)
        {
            clear = clearCaches;
        }

        clear?.Invoke();
    }

    /// <summary>
    /// Reads the version before the host serves anything (it starts hosted services first), so that nothing is cached
    /// before the first reading it will be compared with.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.MetadataCacheDuration > TimeSpan.Zero)
        {
            try
            {
                await PollAsync(cancellationToken);
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                failing = true;
                LogPollFailed(logger, exception);
            }

            // Armed here, before anything (a test moving a fake clock) can expect the next poll.
            firstWait = Task.Delay(PollInterval, time, CancellationToken.None);
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.MetadataCacheDuration <= TimeSpan.Zero)
        {
            return;   // nothing is cached, so nothing can be stale
        }

        try
        {
            // StartAsync read the version a moment ago and armed the wait for the next reading.
            await (firstWait ?? Task.Delay(PollInterval, time, stoppingToken)).WaitAsync(stoppingToken);
            while (true)
            {
                try
                {
                    await PollAsync(stoppingToken);
                    if (failing)
                    {
                        failing = false;
                        LogPollRecovered(logger);
                    }
                }
                catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
                {
                    // A database hiccup must not end the polling (nor stop the host); entries still expire with
                    // MetadataCacheDuration. Said once per outage, not once a second.
                    if (!failing)
                    {
                        failing = true;
                        LogPollFailed(logger, exception);
                    }
                }

                // A one-shot delay from the injected TimeProvider (a test moves a fake clock; a periodic timer would fire
                // for every second a test skips), armed before anyone waiting is told this poll is done.
                var next = Task.Delay(PollInterval, time, stoppingToken);
                Interlocked.Exchange(ref nextPoll, NewPoll()).SetResult();
                await next;
            }
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // Host shutting down (some providers report a cancelled command as their own exception).
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
        var version = await db.RegistrationVersions.AsNoTracking()
            .Where(row => row.Id == RegistrationVersion.RowId)
            .Select(row => row.Version)
            .FirstOrDefaultAsync(cancellationToken);
        if (lastSeen is { } seen && seen != version)
        {
            ExpireHere();
        }

        lastSeen = version;
    }

    private static TaskCompletionSource NewPoll() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read whether clients or scopes changed on another instance; trying again every second, and cached ones expire as usual meanwhile.")]
    private static partial void LogPollFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reading whether clients or scopes changed on another instance works again.")]
    private static partial void LogPollRecovered(ILogger logger);
}
