using IdentityServer.Connect;
using IdentityServer.Users;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;

namespace IdentityServer.Persistence;

public sealed record PruneResult(DateTimeOffset Threshold, long Tokens, long Authorizations, long EndedSessions, long AuditEvents);

/// <summary>
/// Deletes tokens and authorizations that can no longer be used (redeemed, revoked, expired, or ad-hoc authorizations
/// without valid tokens) once they are older than <see cref="PruningOptions.RetainFor"/>; without it the token table
/// grows by several rows for every sign-in and every refresh, forever. Records of signed-out browser sessions go once
/// no cookie carrying their id can still be alive (the sign-in cookie's lifetime after the sign-out); audit events once
/// older than <see cref="PruningOptions.AuditRetainFor"/>.
/// </summary>
public sealed partial class TokenPruner(
    IServiceScopeFactory scopes,
    TimeProvider time,
    IOptions<PruningOptions> options,
    IOptionsMonitor<CookieAuthenticationOptions> cookies,
    IOptions<ConnectOptions> connect,
    ILogger<TokenPruner> logger) : BackgroundService
{
    private TaskCompletionSource<PruneResult> nextRun = NewRun();

    /// <summary>
    /// Completes when the next scheduled run has finished, so that callers (the tests) can wait for the timer-driven
    /// prune without guessing how long it takes.
    /// </summary>
    public Task<PruneResult> NextRunAsync() => Volatile.Read(ref nextRun).Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }

        try
        {
            // The first pass soon after start (as OpenIddict's Quartz job, two minutes in): an instance restarted more
            // often than the interval (deploys, scale-in) would otherwise never prune. Then one per interval. One-shot
            // delays from the injected TimeProvider, so a test moves a fake clock instead of waiting an hour.
            var next = Task.Delay(options.Value.Interval < FirstPassAfter ? options.Value.Interval : FirstPassAfter, time, stoppingToken);
            while (true)
            {
                await next;
                PruneResult? result = null;
                Exception? failure = null;
                try
                {
                    result = await PruneOnceAsync(stoppingToken);
                }
                catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
                {
                    // A database hiccup (or a command timeout) must not end pruning for the life of the process, nor stop
                    // the host; the next pass tries again.
                    LogPruneFailed(logger, exception);
                    failure = exception;
                }

                // Armed before anyone waiting hears of this pass, so that a clock moved right after does not miss it.
                next = Task.Delay(options.Value.Interval, time, stoppingToken);
                var finished = Interlocked.Exchange(ref nextRun, NewRun());
                if (failure is null)
                {
                    finished.SetResult(result!);
                }
                else
                {
                    finished.SetException(failure);
                }
            }
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // Host shutting down (some providers report a cancelled command as their own exception).
        }
    }

    public static readonly TimeSpan FirstPassAfter = TimeSpan.FromMinutes(2);

    public const int AuditBatchSize = 1_000;

    /// <summary>One prune pass with the threshold taken from the clock now.</summary>
    public async Task<PruneResult> PruneOnceAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var threshold = now - options.Value.RetainFor;
        await using var scope = scopes.CreateAsyncScope();
        var tokens = await scope.ServiceProvider.GetRequiredService<IOpenIddictTokenManager>().PruneAsync(threshold, cancellationToken);
        // Tokens first: an ad-hoc authorization is only prunable once its tokens are gone.
        var authorizations = await scope.ServiceProvider.GetRequiredService<IOpenIddictAuthorizationManager>().PruneAsync(threshold, cancellationToken);
        var sessions = await scope.ServiceProvider.GetRequiredService<BrowserSessions>()
            .PruneAsync(cookies.Get(IdentityConstants.ApplicationScheme).ExpireTimeSpan, cancellationToken);
        var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
        // Which apps a browser session signed in to (for back-channel logout), for sessions that ended without a sign-out:
        // kept as long as a refresh token lives after the session last signed in to the app or refreshed there.
        var lastSeenBefore = now - connect.Value.RefreshTokenLifetime - BackChannelLogout.SeenAgainAfter;
        await SqliteWriteGate.WriteAsync(
            db, aborted => db.SessionClients.Where(s => s.LastSeenAt < lastSeenBefore).ExecuteDeleteAsync(aborted), cancellationToken);
        var auditThreshold = now - options.Value.AuditRetainFor;
        // In batches, as OpenIddict prunes tokens: the first pass after an upgrade may meet a year of sign-ins, and one
        // DELETE of them all would hold the database's write lock (SQLite) or one long transaction meanwhile.
        long auditEvents = 0;
        int deleted;
        do
        {
            deleted = await SqliteWriteGate.WriteAsync(db, aborted => db.AuditEvents
                .Where(audit => audit.OccurredAt < auditThreshold)
                // The index that finds them also gives their order: no sort of the whole backlog for each batch.
                .OrderBy(audit => audit.OccurredAt)
                .Take(AuditBatchSize)
                .ExecuteDeleteAsync(aborted), cancellationToken);
            auditEvents += deleted;
        }
        while (deleted == AuditBatchSize);

        LogPruned(logger, tokens, authorizations, sessions, threshold, auditEvents, auditThreshold);
        return new PruneResult(threshold, tokens, authorizations, sessions, auditEvents);
    }

    private static TaskCompletionSource<PruneResult> NewRun() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pruned {Tokens} token(s) and {Authorizations} authorization(s) older than {Threshold}, {EndedSessions} ended browser session(s), and {AuditEvents} audit event(s) older than {AuditThreshold}.")]
    private static partial void LogPruned(
        ILogger logger, long tokens, long authorizations, long endedSessions, DateTimeOffset threshold, long auditEvents, DateTimeOffset auditThreshold);

    [LoggerMessage(Level = LogLevel.Error, Message = "Pruning tokens, authorizations, ended sessions and audit events failed; retrying at the next interval.")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);
}
