using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using IdentityServer.Connect;

namespace IdentityServer.Hosting;

public sealed class RateLimitOptions
{
    public const string SectionName = "RateLimits";

    public bool Enabled { get; set; } = true;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Login and registration posts per window from one IP address, user codes tried on the device verification page,
    /// and failed password grants: the brute-force brake.
    /// </summary>
    [Range(1, 1_000_000)]
    public int PagePostsPerIp { get; set; } = 20;

    /// <summary>Token, introspection, revocation and device authorization requests per window from one IP address.</summary>
    [Range(1, 10_000_000)]
    public int ProtocolRequestsPerIp { get; set; } = 6000;

    /// <summary>Token, introspection and revocation requests per window for one client credential (HTTP Basic id and secret).</summary>
    [Range(1, 10_000_000)]
    public int ProtocolRequestsPerClient { get; set; } = 6000;
}

/// <summary>
/// Per-IP and per-client limits on the endpoints attackers hammer: login and registration posts, token,
/// introspection and revocation. OpenIddict answers those endpoints before routing, so the limiter is global
/// and picks the partition from the path. Rejections are 429 with Retry-After; OAuth endpoints keep an OAuth body.
/// </summary>
public static class RateLimiting
{
    private static readonly PathString[] PagePosts = ["/account/login", "/account/register"];
    private static readonly PathString[] ProtocolPaths = [ConnectPaths.Token, ConnectPaths.Introspect, ConnectPaths.Revoke, ConnectPaths.DeviceAuthorization];

    public static IHostApplicationBuilder AddRateLimits(this IHostApplicationBuilder builder)
    {
        builder.AddValidatedOptions<RateLimitOptions>(RateLimitOptions.SectionName);

        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddSingleton<PasswordGrantLimiter>();
        builder.Services.AddOptions<RateLimiterOptions>()
            .Configure<IOptions<RateLimitOptions>>((limiter, settings) =>
            {
                var limits = settings.Value;
                limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
                limiter.OnRejected = OnRejectedAsync;
                if (limits.Enabled)
                {
                    limiter.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                        PartitionedRateLimiter.Create<HttpContext, string>(context => ByIp(context, limits)),
                        PartitionedRateLimiter.Create<HttpContext, string>(context => ByClient(context, limits)));
                }
            });
        return builder;
    }

    private static RateLimitPartition<string> ByIp(HttpContext context, RateLimitOptions limits)
    {
        if (CountedAddress(context) is not { } ip)
        {
            return RateLimitPartition.GetNoLimiter(string.Empty);
        }

        var path = LimitedPath(context);
        // A user code looked up on the device verification page is a guess like a password: the same brake.
        if ((HttpMethods.IsPost(context.Request.Method) && PagePosts.Contains(path))
            || (path == ConnectPaths.Verify && (HttpMethods.IsPost(context.Request.Method) || context.Request.Query.ContainsKey("user_code"))))
        {
            return Window("page:" + ip, limits.PagePostsPerIp, limits.Window);
        }

        return ProtocolPaths.Contains(path)
            ? Window("protocol:" + ip, limits.ProtocolRequestsPerIp, limits.Window)
            : RateLimitPartition.GetNoLimiter(string.Empty);
    }

    /// <summary>
    /// The address a caller's requests are counted under, or null for loopback callers (local tools, test suites, a
    /// same-host proxy without forwarded headers), which are not limited per address; per-account lockout and the
    /// per-client limit still apply to them.
    /// </summary>
    internal static string? CountedAddress(HttpContext context) =>
        context.Connection.RemoteIpAddress switch
        {
            { } remote when System.Net.IPAddress.IsLoopback(remote) => null,
            { } address => Partition(address),
            null => "local",
        };

    /// <summary>
    /// An IPv6 host is handed a whole /64 and picks any address in it, so counting per address would give it 2^64
    /// budgets: IPv6 clients are counted per /64 prefix. IPv4 (and IPv4 mapped into IPv6) per address.
    /// </summary>
    private static string Partition(System.Net.IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new System.Net.IPAddress(bytes).ToString() + "/64";
    }

    /// <summary>
    /// Per client credential: the client id with a digest of the secret sent. Counting by the id alone let anyone
    /// use up a client's budget with wrong secrets (the limiter runs before the client is authenticated); a real
    /// client's requests all fall in one partition, and guesses are still counted, per IP, above.
    /// </summary>
    private static RateLimitPartition<string> ByClient(HttpContext context, RateLimitOptions limits) =>
        ProtocolPaths.Contains(LimitedPath(context)) && BasicCredential(context) is { } credential
            ? Window("client:" + credential, limits.ProtocolRequestsPerClient, limits.Window)
            : RateLimitPartition.GetNoLimiter(string.Empty);

    // Routing and OpenIddict serve /account/login/ and /connect/token/ as well: a trailing slash must not step around.
    private static PathString LimitedPath(HttpContext context) =>
        context.Request.Path.Value is { Length: > 1 } path && path.EndsWith('/') ? new PathString(path.TrimEnd('/')) : context.Request.Path;

    /// <summary>
    /// The client id from HTTP Basic credentials and a short digest of its secret (never the secret itself), or null;
    /// form bodies are not read here, to keep the limiter cheap. Ids longer than any registrable one are not keyed.
    /// </summary>
    private static string? BasicCredential(HttpContext context)
    {
        if (!AuthenticationHeaderValue.TryParse(context.Request.Headers.Authorization, out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
        {
            return null;
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
            var separator = decoded.IndexOf(':', StringComparison.Ordinal);
            if (separator is <= 0 or > 300)
            {
                return null;
            }

            var secretDigest = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(decoded[(separator + 1)..])), 0, 12);
            return Uri.UnescapeDataString(decoded[..separator]) + ":" + secretDigest;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static async ValueTask OnRejectedAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        if (ProtocolPaths.Contains(LimitedPath(context.HttpContext)))
        {
            await RejectProtocolRequestAsync(context.HttpContext, context.Lease, cancellationToken);
            return;
        }

        var waitSeconds = SetRetryAfter(context.HttpContext.Response, context.Lease);
        if (StatusCodePages.AsksForHtml(context.HttpContext.Request))
        {
            // A person at the login or registration form (many behind one shared address) reads a page, not JSON.
            await PlainPage.WriteAsync(context.HttpContext.Response, StatusCodes.Status429TooManyRequests, "Too many attempts", $"""
                        <h1>Too many attempts</h1>
                        <p class="muted" id="too-many-attempts">Too many sign-in or registration attempts came from your network. Wait up to {waitSeconds} seconds, then go back and try again.</p>
            """, cancellationToken);
            return;
        }

        await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests.",
            detail: "Too many attempts from your address; wait and try again.").ExecuteAsync(context.HttpContext);
    }

    /// <summary>429 with Retry-After and an OAuth error body, for the token, introspection and revocation endpoints.</summary>
    internal static async Task RejectProtocolRequestAsync(HttpContext context, RateLimitLease lease, CancellationToken cancellationToken)
    {
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        SetRetryAfter(context.Response, lease);
        await context.Response.WriteAsJsonAsync(new Dictionary<string, string>
        {
            ["error"] = "temporarily_unavailable",
            ["error_description"] = "Too many requests; retry later.",
        }, cancellationToken);
    }

    /// <returns>The seconds Retry-After names.</returns>
    private static int SetRetryAfter(HttpResponse response, RateLimitLease lease)
    {
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return seconds;
    }

    internal static RateLimitPartition<string> Window(string key, int permits, TimeSpan window) =>
        RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = permits,
            Window = window,
            QueueLimit = 0,
        });
}

/// <summary>
/// The password grant checks a password as the login page does, but on the token endpoint, whose per-IP budget is
/// sized for machines (the global limiter does not read request bodies, so it cannot tell the grant). Its failed
/// attempts count against <see cref="RateLimitOptions.PagePostsPerIp"/> per window per address, apart from the pages'
/// budget: the same brake on guessing. Successful sign-ins are not counted, since a first-party backend signing its
/// users in sends them all from one address.
/// </summary>
public sealed class PasswordGrantLimiter(IOptions<RateLimitOptions> options) : IDisposable
{
    private readonly PartitionedRateLimiter<HttpContext> limiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
        options.Value.Enabled && RateLimiting.CountedAddress(context) is { } ip
            ? RateLimiting.Window("password-grant:" + ip, options.Value.PagePostsPerIp, options.Value.Window)
            : RateLimitPartition.GetNoLimiter(string.Empty));

    /// <summary>Whether this address may try a password now; a refused lease carries Retry-After.</summary>
    public RateLimitLease MayTry(HttpContext context) => limiter.AttemptAcquire(context, permitCount: 0);

    public void CountFailure(HttpContext context) => limiter.AttemptAcquire(context).Dispose();

    public void Dispose() => limiter.Dispose();
}
