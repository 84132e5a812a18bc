using IdentityServer.Keys;
using IdentityServer.Persistence;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace IdentityServer.Hosting;

/// <summary><c>/health/live</c>: the process answers. <c>/health/ready</c>: the database answers and the keys are loaded (Degraded when they are not being re-read).</summary>
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

    /// <summary>
    /// Ready while the keys are loaded. An instance whose reloads keep failing still signs and validates with what it
    /// has, but misses keys other instances create: after three missed reloads it reports Degraded (still 200, so
    /// monitoring sees it), never unready, since a failure shared by every instance would otherwise take all of them
    /// out of the load balancer while each could still serve.
    /// </summary>
    private sealed class KeyRingLoadedCheck(KeyRing ring, TimeProvider time, IOptions<KeyOptions> options) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (!ring.IsLoaded || ring.SigningCredentials.Count == 0)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("Signing keys are not loaded."));
            }

            var age = time.GetUtcNow() - ring.LoadedAt;
            return Task.FromResult(age > options.Value.RefreshInterval * 3
                ? HealthCheckResult.Degraded($"The keys have not been re-read for {age}.")
                : HealthCheckResult.Healthy());
        }
    }
}
