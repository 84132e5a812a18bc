using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// RFC 8628 3.5: a device waiting for its user polls the token endpoint, at most once per <see cref="Interval"/>
/// (which the device authorization response names). One that polls faster while the user has not answered yet gets
/// slow_down, and must then wait 5 seconds more between polls, as Keycloak and Duende answer it. Each instance keeps the
/// last poll of each pending device code in memory (a digest of the code, never the code): an instance behind a load
/// balancer sees only the polls that reach it.
/// </summary>
internal sealed class DevicePolling(TimeProvider time)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    // Bounded: a code lives 10 minutes, and past this many pending codes the oldest polls are forgotten.
    private const int MaxTracked = 100_000;

    private readonly ConcurrentDictionary<string, DateTimeOffset> lastPolls = new(StringComparer.Ordinal);

    /// <summary>Records a poll of a pending code; true when the previous one came less than the interval before it.</summary>
    public bool TooSoon(string deviceCode)
    {
        var now = time.GetUtcNow();
        var key = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(deviceCode)));
        var tooSoon = lastPolls.TryGetValue(key, out var last) && now - last < Interval;
        lastPolls[key] = now;
        if (lastPolls.Count > MaxTracked)
        {
            foreach (var stale in lastPolls.Where(poll => now - poll.Value > TimeSpan.FromMinutes(15)).Select(poll => poll.Key).ToList())
            {
                lastPolls.TryRemove(stale, out _);
            }

            if (lastPolls.Count > MaxTracked)
            {
                lastPolls.Clear();
            }
        }

        return tooSoon;
    }

    /// <summary>Turns authorization_pending into slow_down for a device that polls too often.</summary>
    internal sealed class SlowDown(DevicePolling polling) : IOpenIddictServerHandler<ApplyTokenResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
                .UseSingletonHandler<SlowDown>()
                .SetOrder(int.MinValue + 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ApplyTokenResponseContext context)
        {
            if (context.Response.Error == Errors.AuthorizationPending
                && context.Request?.IsDeviceCodeGrantType() == true
                && context.Request.DeviceCode is { Length: > 0 } deviceCode
                && polling.TooSoon(deviceCode))
            {
                context.Response.Error = Errors.SlowDown;
                context.Response.ErrorDescription =
                    $"The device polls too often: wait at least {(int)Interval.TotalSeconds} seconds more between requests.";
                context.Response.ErrorUri = null;
            }

            return default;
        }
    }

    /// <summary>Names the polling interval in the device authorization response (RFC 8628 3.2).</summary>
    internal sealed class AdvertiseInterval : IOpenIddictServerHandler<ApplyDeviceAuthorizationResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyDeviceAuthorizationResponseContext>()
                .UseSingletonHandler<AdvertiseInterval>()
                .SetOrder(int.MinValue + 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ApplyDeviceAuthorizationResponseContext context)
        {
            if (!string.IsNullOrEmpty(context.Response.DeviceCode))
            {
                context.Response[Parameters.Interval] = (long)Interval.TotalSeconds;
            }

            return default;
        }
    }
}
