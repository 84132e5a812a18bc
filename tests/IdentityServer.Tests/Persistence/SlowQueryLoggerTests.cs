using IdentityServer.Tests.Hosting;

namespace IdentityServer.Tests.Persistence;

public sealed class EverythingIsSlowFactory : CapturedLogsFactory
{
    public EverythingIsSlowFactory() => With("Database:SlowQueryThreshold", "00:00:00.0000001");
}

public sealed class SlowQueryLoggerTests(EverythingIsSlowFactory factory) : IClassFixture<EverythingIsSlowFactory>
{
    [Fact]
    public async Task Commands_slower_than_the_threshold_are_logged_as_warnings_with_their_sql_but_no_values()
    {
        using var response = await factory.CreateClient().GetAsync("/health/ready");

        var slow = factory.Logs.Lines.Where(line => line.Contains("Slow database command", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(slow);
        Assert.All(slow, line => Assert.StartsWith("Warning", line, StringComparison.Ordinal));
        Assert.Contains(slow, line => line.Contains("SELECT", StringComparison.OrdinalIgnoreCase));
    }
}
