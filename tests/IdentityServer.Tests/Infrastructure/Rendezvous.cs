namespace IdentityServer.Tests.Infrastructure;

/// <summary>
/// Holds requests at a chosen point inside the server (a test's handler calls <see cref="ArriveAsync"/> there) until
/// all the expected ones have arrived, so that they all pass their checks before any of them acts: a race forced,
/// not hoped for with timing.
/// </summary>
public sealed class Rendezvous
{
    private readonly Lock gate = new();
    private TaskCompletionSource all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int expected;
    private int arrived;

    public int Arrived => Volatile.Read(ref arrived);

    public void Arm(int parties)
    {
        lock (gate)
        {
            expected = parties;
            arrived = 0;
            all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public Task ArriveAsync()
    {
        Task wait;
        lock (gate)
        {
            if (expected == 0)
            {
                return Task.CompletedTask;
            }

            arrived++;
            if (arrived == expected)
            {
                expected = 0;
                all.SetResult();
            }

            wait = all.Task;
        }

        // A bound, not a delay: if the other request never gets here the test fails instead of hanging.
        return wait.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
