using IdentityServer.Keys;
using IdentityServer.Persistence;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace IdentityServer.Hosting;

/// <summary><c>/health/live</c>: the process answers. <c>/health/ready</c>: the database answers and the keys are loaded.</summary>
public static class Health
{
    private const string ReadyTag = "ready";

    public static IHostApplicationBuilder AddHealth(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks()
            .AddDbContextCheck<ApplicationDbContext>("database", tags: [ReadyTag])
            .AddCheck<KeyRingLoadedCheck>("keys", tags: [ReadyTag]);
        return builder;
    }

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/health/live", new() { Predicate = _ => false });
        endpoints.MapHealthChecks("/health/ready", new() { Predicate = check => check.Tags.Contains(ReadyTag) });
        return endpoints;
    }

    private sealed class KeyRingLoadedCheck(KeyRing ring) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(ring.IsLoaded && ring.SigningCredentials.Count > 0
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy("Signing keys are not loaded."));
    }
}
