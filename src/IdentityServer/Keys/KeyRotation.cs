using Microsoft.Extensions.Options;
using OpenIddict.Server;
using OpenIddict.Validation;

namespace IdentityServer.Keys;

/// <summary>
/// Re-reads the keys on a schedule and hands them to OpenIddict. OpenIddict builds its options once and caches
/// them, so after each refresh the cached server and validation options are dropped and rebuilt from the ring.
/// </summary>
public sealed partial class KeyRotation(
    IServiceScopeFactory scopes,
    IOptionsMonitorCache<OpenIddictServerOptions> serverOptions,
    IOptionsMonitorCache<OpenIddictValidationOptions> validationOptions,
    IOptions<KeyOptions> options,
    TimeProvider time,
    ILogger<KeyRotation> logger) : BackgroundService
{
    // One refresh at a time in this process, so the timer and a caller never both create a successor key.
    private readonly SemaphoreSlim refreshing = new(1, 1);

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await refreshing.WaitAsync(cancellationToken);
        try
        {
            await using (var scope = scopes.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<KeyStore>().RefreshAsync(cancellationToken);
            }

            serverOptions.TryRemove(Options.DefaultName);
            validationOptions.TryRemove(Options.DefaultName);
        }
        finally
        {
            refreshing.Release();
        }
    }

    public override void Dispose()
    {
        refreshing.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RefreshInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RefreshAsync(stoppingToken);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    // Keep serving with the keys already loaded; the next tick tries again.
                    LogRefreshFailed(logger, exception);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down. Also when the host failed to start: it then disposes this service without stopping it,
            // and a cancelled task would be logged as a failed background service.
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Refreshing the signing keys failed; keeping the current ones.")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
