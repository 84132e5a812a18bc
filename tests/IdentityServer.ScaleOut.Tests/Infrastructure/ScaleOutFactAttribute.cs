namespace IdentityServer.ScaleOut.Tests.Infrastructure;

/// <summary>
/// A fact that needs a PostgreSQL server. Without IDENTITYSERVER_TEST_POSTGRES it is skipped, unless the run says
/// it is the PostgreSQL pass (IDENTITYSERVER_TEST_PROVIDER=PostgreSql): then it runs and fails with the reason.
/// </summary>
public sealed class ScaleOutFactAttribute : FactAttribute
{
    public ScaleOutFactAttribute()
    {
        if (Environment.GetEnvironmentVariable(Cluster.PostgresVariable) is null
            && !string.Equals(Environment.GetEnvironmentVariable("IDENTITYSERVER_TEST_PROVIDER"), "PostgreSql", StringComparison.OrdinalIgnoreCase))
        {
            Skip = $"Scale-out tests need PostgreSQL: set {Cluster.PostgresVariable} (\"Host=127.0.0.1;Port=...;Username=...;Password=...\").";
        }
    }
}
