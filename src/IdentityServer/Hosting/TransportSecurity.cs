using IdentityServer.Connect;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace IdentityServer.Hosting;

/// <summary>
/// HTTPS everywhere but loopback. OpenIddict's own HTTPS check knows nothing of loopback, so it is switched off and
/// replaced by this: the server refuses to start on a plain-HTTP non-loopback address unless it also serves HTTPS or a
/// trusted proxy (whose X-Forwarded-Proto says where TLS ended) is configured, and refuses plain-HTTP requests that do
/// not arrive on loopback.
/// </summary>
public static partial class TransportSecurity
{
    public static IHostApplicationBuilder AddTransportSecurity(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(ProxyOptions.SectionName);
        builder.Services.AddOptions<ProxyOptions>()
            .Bind(section)
            // ForwardedHeaders__KnownProxies=10.0.0.5 (no __0) binds nothing to a list: the proxy went untrusted without a
            // word. A single value, or several separated by commas, counts as the list.
            .Configure(options =>
            {
                options.KnownProxies.AddRange(OneValueList(section[nameof(ProxyOptions.KnownProxies)]));
                options.KnownNetworks.AddRange(OneValueList(section[nameof(ProxyOptions.KnownNetworks)]));
            })
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ProxyOptions>, ProxyOptions.Validation>();

        builder.Services.AddOptions<ForwardedHeadersOptions>()
            .Configure<IOptions<ProxyOptions>, IOptions<ConnectOptions>>((forwarded, proxies, connect) =>
            {
                forwarded.KnownProxies.Clear();
                forwarded.KnownIPNetworks.Clear();
                if (!proxies.Value.Any)
                {
                    // The middleware trusts every sender when both lists are empty: with no proxy configured, no
                    // client may pick its own scheme, host (hence issuer) or address (hence rate-limit partition).
                    forwarded.ForwardedHeaders = ForwardedHeaders.None;
                    return;
                }

                forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
                if (IssuerPath.Of(connect.Value.Issuer).HasValue)
                {
                    // A proxy serving an issuer with a path may strip it and say so; IssuerPath accepts that path alone.
                    // Without one the header is not read: a proxy that does not clear it would let any client pick the
                    // base of every link, redirect and cookie.
                    forwarded.ForwardedHeaders |= ForwardedHeaders.XForwardedPrefix;
                }
                // Behind a chain of proxies (a load balancer, then an ingress) the client is several hops back; each
                // hop read must be a known proxy, and its X-Forwarded-Host and -Proto are believed too, so the count
                // is the operator's to raise (ASP.NET Core's default is one).
                forwarded.ForwardLimit = proxies.Value.ForwardLimit;
                foreach (var proxy in proxies.Value.KnownProxies)
                {
                    forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
                }

                foreach (var network in proxies.Value.KnownNetworks)
                {
                    forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
                }
            });

        builder.Services.AddHostedService<RefuseInsecureBinding>();
        return builder;
    }

    public static IApplicationBuilder UseTransportSecurity(this IApplicationBuilder app)
    {
        app.UseForwardedHeaders();
        return app.Use(async (context, next) =>
        {
            // On loopback too, the name asked for must be a loopback one: a same-host proxy forwarding a public name
            // over plain HTTP (without saying so in trusted headers) would otherwise get pages, cookies and, with no
            // configured issuer, a plain-HTTP public issuer.
            if (!context.Request.IsHttps && !IsProbe(context.Request)
                && (!IsLoopback(context.Connection.LocalIpAddress) || !IsLoopbackHost(context.Request.Host)))
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await Results.Problem(
                    statusCode: StatusCodes.Status400BadRequest,
                    title: "HTTPS is required.",
                    detail: "This server accepts plain HTTP on loopback addresses and names only.").ExecuteAsync(context);
                return;
            }

            await next(context);
        });
    }

    // The in-memory test server has no socket, hence no address: it is as local as loopback.
    private static bool IsLoopback(IPAddress? address) => address is null || IPAddress.IsLoopback(address);

    // localhost, a name under .localhost (RFC 6761), or a loopback IP literal. HTTP/1.0 requests may carry no Host.
    private static bool IsLoopbackHost(HostString host) =>
        !host.HasValue
        || host.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || host.Host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    // Kubelets and load balancers probe the pod's own address over plain HTTP; the probes answer only
    // "Healthy" or "Unhealthy", so nothing is exposed by letting them through.
    internal static bool IsProbe(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
        && (request.Path == "/health/live" || request.Path == "/health/ready");

    private static string[] OneValueList(string? value) =>
        value?.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

    public sealed class ProxyOptions
    {
        public const string SectionName = "ForwardedHeaders";

        /// <summary>Addresses of reverse proxies whose X-Forwarded-* headers are trusted.</summary>
        public List<string> KnownProxies { get; set; } = [];

        /// <summary>
        /// CIDR ranges whose X-Forwarded-* headers are trusted: for proxies without a fixed address, such as
        /// ingress controller pods (the pod network's range).
        /// </summary>
        public List<string> KnownNetworks { get; set; } = [];

        /// <summary>
        /// How many proxies stand in front of the server: that many X-Forwarded-* entries are read, from the nearest,
        /// stopping at the first one not sent by a known proxy. With too low a count every client behind a chain looks
        /// like the outer proxy (one shared per-address rate limit).
        /// </summary>
        public int ForwardLimit { get; set; } = 1;

        internal bool Any => KnownProxies.Count > 0 || KnownNetworks.Count > 0;

        /// <summary>Names the key and the value that is wrong, as every other setting's refusal does.</summary>
        internal sealed class Validation : IValidateOptions<ProxyOptions>
        {
            public ValidateOptionsResult Validate(string? name, ProxyOptions options)
            {
                var failures = new List<string>();
                if (options.ForwardLimit is < 1 or > 10)
                {
                    failures.Add($"{SectionName}:{nameof(ForwardLimit)} must be a count from 1 to 10, not {options.ForwardLimit}.");
                }

                failures.AddRange(options.KnownProxies.Where(proxy => !IPAddress.TryParse(proxy, out _))
                    .Select(proxy => $"{SectionName}:{nameof(KnownProxies)} must hold IP addresses; '{proxy}' is not one."));
                failures.AddRange(options.KnownNetworks.Where(network => !System.Net.IPNetwork.TryParse(network, out _))
                    .Select(network => $"{SectionName}:{nameof(KnownNetworks)} must hold CIDR ranges such as 10.0.0.0/8; '{network}' is not one."));
                return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
            }
        }
    }

    internal sealed partial class RefuseInsecureBinding(
        IServer server,
        IOptions<ProxyOptions> proxies,
        ILogger<RefuseInsecureBinding> logger) : IHostedLifecycleService
    {
        public Task StartedAsync(CancellationToken cancellationToken)
        {
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            // TLS is there when Kestrel serves HTTPS itself (a plain-HTTP port beside it then answers health probes
            // only) or when a trusted proxy terminates it. An https issuer alone is not enough: with no proxy to
            // trust, every request on a plain-HTTP public address would be refused, a server that answers nothing.
            var tlsTerminatedAhead = proxies.Value.Any
                || addresses.Any(address => address.StartsWith("https://", StringComparison.OrdinalIgnoreCase));
            foreach (var address in addresses)
            {
                if (!Uri.TryCreate(address.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri)
                    || uri.Scheme != Uri.UriSchemeHttp)
                {
                    continue;
                }

                var loopback = Loopback.IsLoopback(uri);
                if (!loopback && !tlsTerminatedAhead)
                {
                    LogRefused(logger, address);
                    throw new InvalidOperationException(
                        $"Refusing to serve plain HTTP on {address}: only loopback addresses may use HTTP. Use https, or set IdentityServer:Issuer to an https URL and ForwardedHeaders:KnownProxies (or KnownNetworks) for the TLS-terminating proxy.");
                }
            }

            return Task.CompletedTask;
        }

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(Level = LogLevel.Critical, Message = "Refusing to serve plain HTTP on {Address}.")]
        private static partial void LogRefused(ILogger logger, string address);
    }
}
