using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace IdentityServer.Users;

/// <summary>
/// Runs BCrypt on threads of its own, one per core unless <c>Passwords:HashingThreads</c> says otherwise; requests
/// wait for one without holding a thread, in arrival order. A verify is a quarter of a second of CPU at cost 12: run
/// on the request's thread-pool thread, a burst of logins held every pool thread, and the rest of the server
/// (discovery, JWKS, token refreshes) waited seconds for one while the pool slowly added more.
/// </summary>
public sealed class PasswordHashingThreads : IDisposable
{
    private readonly BlockingCollection<Action> work = new();

    public PasswordHashingThreads(IOptions<PasswordHashingOptions> options)
    {
        var count = options.Value.HashingThreads ?? Environment.ProcessorCount;
        for (var i = 1; i <= count; i++)
        {
            new Thread(RunQueuedWork) { IsBackground = true, Name = $"BCrypt {i}" }.Start();
        }
    }

    public Task<T> RunAsync<T>(Func<T> hashing, CancellationToken cancellationToken)
    {
        // Continuations go to the thread pool, not onto a hashing thread.
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!TryQueue(() =>
        {
            if (cancellationToken.IsCancellationRequested)
            {
                // Nobody waits for the answer any more: the CPU goes to the next request.
                result.TrySetCanceled(cancellationToken);
                return;
            }

            try
            {
                result.TrySetResult(hashing());
            }
            catch (Exception exception)
            {
                result.TrySetException(exception);
            }
        }))
        {
            // The host is stopping: a request still running then ends as cancelled, as an aborted one does.
            result.TrySetCanceled(CancellationToken.None);
        }

        return result.Task;
    }

    private bool TryQueue(Action hashing)
    {
        try
        {
            return work.TryAdd(hashing);
        }
        catch (InvalidOperationException) when (work.IsAddingCompleted)
        {
            return false;
        }
    }

    private void RunQueuedWork()
    {
        foreach (var next in work.GetConsumingEnumerable())
        {
            next();
        }
    }

    public void Dispose() => work.CompleteAdding();
}
