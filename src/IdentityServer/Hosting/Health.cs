using IdentityServer.Keys;
using IdentityServer.Persistence;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace IdentityServer.Hosting;

/// <summary><c>/health/live</c>: the process answers. <c>/health/ready</c>: the database answers and the keys are loaded and current.</summary>
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
    /// Ready while the keys are loaded and recently re-read. An instance whose reloads keep failing still signs and
    /// validates with what it has, but misses keys other instances create: degraded after three missed reloads, and
    /// not ready once it has missed half the time a successor key is published ahead (it may soon sign with a key
    /// the others' JWKS no longer lists, or refuse tokens protected by theirs).
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
            var settings = options.Value;
            return Task.FromResult(
                age > settings.PublishAhead / 2 ? HealthCheckResult.Unhealthy($"The keys have not been re-read for {age}.")
                : age > settings.RefreshInterval * 3 ? HealthCheckResult.Degraded($"The keys have not been re-read for {age}.")
                : HealthCheckResult.Healthy());
        }
    }
}
