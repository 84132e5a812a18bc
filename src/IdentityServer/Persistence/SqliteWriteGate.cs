using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace IdentityServer.Persistence;

/// <summary>
/// Lets one SaveChanges at a time write to a SQLite file, waiting asynchronously for its turn. SQLite has a single
/// writer even in WAL mode; without this, concurrent token requests collide on its lock and Microsoft.Data.Sqlite
/// answers SQLITE_BUSY by sleeping the thread and retrying, which under load put hundreds of milliseconds on the
/// p99 of every grant that stores a token. SaveChanges inside a transaction someone opened explicitly is left alone
/// (the transaction may already hold the lock, and waiting here could then deadlock with it).
/// </summary>
internal sealed class SqliteWriteGate : SaveChangesInterceptor
{
    // One per process (a host uses one database file): every DbContext of the host shares the single SQLite writer.
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly object Held = new();

    public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } context && context.Database.CurrentTransaction is null)
        {
            await Gate.WaitAsync(cancellationToken);
            Mark(context);
        }

        return result;
    }

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        if (eventData.Context is { } context && context.Database.CurrentTransaction is null)
        {
            Gate.Wait();
            Mark(context);
        }

        return result;
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Release(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        Release(eventData.Context);
        return result;
    }

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Release(eventData.Context);
        return Task.CompletedTask;
    }

    public override void SaveChangesFailed(DbContextErrorEventData eventData) => Release(eventData.Context);

    public override Task SaveChangesCanceledAsync(DbContextEventData eventData, CancellationToken cancellationToken = default)
    {
        Release(eventData.Context);
        return Task.CompletedTask;
    }

    public override void SaveChangesCanceled(DbContextEventData eventData) => Release(eventData.Context);

    // EF Core reports a concurrency conflict here and not through SaveChangesFailed, so give the gate back now
    // (OpenIddict's TryRedeemAsync ends this way for the loser of a race).
    public override ValueTask<InterceptionResult> ThrowingConcurrencyExceptionAsync(
        ConcurrencyExceptionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default)
    {
        Release(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult ThrowingConcurrencyException(ConcurrencyExceptionEventData eventData, InterceptionResult result)
    {
        Release(eventData.Context);
        return result;
    }

    /// <summary>
    /// Runs a bulk statement (<c>ExecuteUpdate</c>, <c>ExecuteDelete</c>) through the gate: EF Core sends those
    /// without SaveChanges, so the interceptor never sees them, and a burst of them (wrong passwords counted while
    /// tokens are issued) would otherwise collide on SQLite's lock and sleep in its busy-retry. Other providers, and
    /// a context inside a transaction of its own or already holding the gate, run it as it is.
    /// </summary>
    public static async Task<int> WriteAsync(DbContext context, Func<CancellationToken, Task<int>> write, CancellationToken cancellationToken)
    {
        if (!context.Database.IsSqlite() || context.Database.CurrentTransaction is not null || Holds(context))
        {
            return await write(cancellationToken);
        }

        await Gate.WaitAsync(cancellationToken);
        Mark(context);
        try
        {
            return await write(cancellationToken);
        }
        finally
        {
            Release(context);
        }
    }

    /// <summary>Whether <paramref name="context"/> holds the gate now.</summary>
    internal static bool Holds(DbContext context) => Holders.TryGetValue(context, out _);

    // The context remembers whether it holds the gate, so that only a SaveChanges that took it gives it back.
    private static void Mark(DbContext context) => Holders.AddOrUpdate(context, Held);

    /// <summary>Gives the gate back if <paramref name="context"/> holds it; safe to call any number of times.</summary>
    public static void Release(DbContext? context)
    {
        if (context is not null && Holders.Remove(context))
        {
            Gate.Release();
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DbContext, object> Holders = new();
}
