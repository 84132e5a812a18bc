namespace IdentityServer.Tests.Infrastructure;

/// <summary>
/// Holds the next request that reaches a chosen point inside the server (a test's event handler or service calls
/// <see cref="ArriveAsync"/> there) until the test has done what another party does meanwhile: the worst
/// interleaving, forced rather than hoped for with timing.
/// </summary>
public sealed class ServerHold
{
    private TaskCompletionSource? reached;
    private TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Starts the request, waits until the server holds it, runs <paramref name="meanwhile"/>, then lets it finish.</summary>
    public async Task<T> AroundAsync<T>(Func<Task<T>> request, Func<Task> meanwhile)
    {
        release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var armed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref reached, armed);
        var pending = request();
        try
        {
            await armed.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await meanwhile();
        }
        finally
        {
            release.TrySetResult();
        }

        return await pending;
    }

    /// <summary>Called by the server at the chosen point: waits there if the test armed the hold.</summary>
    public Task ArriveAsync()
    {
        if (Interlocked.Exchange(ref reached, null) is not { } armed)
        {
            return Task.CompletedTask;
        }

        armed.SetResult();
        // A bound, not a delay: if the test never releases it the request fails instead of hanging.
        return release.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
