using IdentityServer.Hosting;

namespace IdentityServer.Tests.Hosting;

/// <summary>
/// An instance stopped while it starts (a rollout, a scale-in during migrations) exits 0 with a line saying so; a
/// real failure still exits 1 with its reason.
/// </summary>
public sealed class StopDuringStartTests
{
    [Fact]
    public void Start_up_cancelled_after_a_stop_was_asked_for_is_a_stop()
    {
        Assert.True(StartupFailure.IsStopDuringStart(new OperationCanceledException(), stopRequested: true));
        Assert.True(StartupFailure.IsStopDuringStart(new AggregateException(new TaskCanceledException()), stopRequested: true));
    }

    [Fact]
    public void A_cancellation_nobody_asked_for_or_a_failure_during_a_stop_is_still_a_failure()
    {
        Assert.False(StartupFailure.IsStopDuringStart(new OperationCanceledException(), stopRequested: false));
        Assert.False(StartupFailure.IsStopDuringStart(new InvalidOperationException("database unreachable"), stopRequested: true));
        Assert.False(StartupFailure.IsStopDuringStart(
            new AggregateException(new OperationCanceledException(), new InvalidOperationException("bad setting")), stopRequested: true));
        Assert.False(StartupFailure.IsStopDuringStart(
            new OperationCanceledException("cancelled", new TimeoutException("the database did not answer")), stopRequested: true));
    }
}
