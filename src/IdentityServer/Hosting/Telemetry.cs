using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using OpenIddict.Server;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Hosting;

public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    /// <summary>
    /// OTLP collector for traces and metrics (e.g. <c>http://otel-collector:4317</c>). Unset, nothing is exported,
    /// unless the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
    /// </summary>
    public Uri? OtlpEndpoint { get; set; }

    /// <summary><c>Grpc</c> (port 4317) or <c>HttpProtobuf</c> (port 4318).</summary>
    [EnumDataType(typeof(OtlpExportProtocol))]
    public OtlpExportProtocol OtlpProtocol { get; set; } = OtlpExportProtocol.Grpc;

    [Required]
    public string ServiceName { get; set; } = "identityserver";
}

/// <summary>
/// The "IdentityServer" meter: what operators alert on (token issuance by grant, login failures, token theft
/// signals). Instruments are always there, so <c>dotnet-counters</c> sees them without any exporter.
/// </summary>
public sealed class IdentityServerMetrics
{
    public const string MeterName = "IdentityServer";

    private readonly Counter<long> tokensIssued;
    private readonly Counter<long> logins;
    private readonly Counter<long> reuseDetected;

    public IdentityServerMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        tokensIssued = meter.CreateCounter<long>("identityserver.tokens.issued", "{response}",
            "Successful token endpoint responses, by grant_type.");
        logins = meter.CreateCounter<long>("identityserver.logins", "{login}",
            "Password sign-in attempts (login page and password grant), by result (succeeded or failed).");
        reuseDetected = meter.CreateCounter<long>("identityserver.tokens.reuse_detected", "{token}",
            "Already redeemed refresh tokens or authorization codes presented again, by token_type; the chain is revoked.");
    }

    public void TokenIssued(string grantType) => tokensIssued.Add(1, new KeyValuePair<string, object?>("grant_type", grantType));

    public void LoginSucceeded() => logins.Add(1, new KeyValuePair<string, object?>("result", "succeeded"));

    public void LoginFailed() => logins.Add(1, new KeyValuePair<string, object?>("result", "failed"));

    public void ReuseDetected(string tokenType) => reuseDetected.Add(1, new KeyValuePair<string, object?>("token_type", tokenType));
}

public static class Telemetry
{
    public static IHostApplicationBuilder AddTelemetry(this IHostApplicationBuilder builder)
    {
        builder.AddValidatedOptions<TelemetryOptions>(TelemetryOptions.SectionName);
        builder.Services.AddSingleton<IdentityServerMetrics>();

        // Counting at the token endpoint's response covers every grant, including the passthrough ones.
        builder.Services.AddOpenIddict().AddServer(server =>
            server.AddEventHandler<OpenIddictServerEvents.ApplyTokenResponseContext>(handler => handler
                .UseSingletonHandler<CountTokenResponses>()
                // Before OpenIddict's ASP.NET Core handlers (order 100 000 and up) write the response and stop the chain.
                .SetOrder(50_000)));

        if (builder.Environment.IsProduction())
        {
            // One JSON object per line: what log collectors (Loki, CloudWatch, Elastic) parse without grok rules.
            builder.Logging.AddJsonConsole(json =>
            {
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                json.IncludeScopes = true;
            });
        }

        var settings = builder.Configuration.GetSection(TelemetryOptions.SectionName).Get<TelemetryOptions>() ?? new();
        var standardEndpoint = builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (settings.OtlpEndpoint is { IsAbsoluteUri: false } relative)
        {
            // The exporter would fail later with "This operation is not supported for a relative URI", naming nothing.
            throw new InvalidOperationException(
                $"Configuration key 'Telemetry:OtlpEndpoint' must be an absolute URL such as http://otel-collector:4317, not '{relative}'.");
        }

        if (settings.OtlpEndpoint is null && string.IsNullOrWhiteSpace(standardEndpoint))
        {
            // No collector: no SDK, no per-request activity cost.
            return builder;
        }

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(settings.ServiceName))
            .WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(aspnet =>
                    // Probes every few seconds from every kubelet would drown the real traffic.
                    aspnet.Filter = context => !context.Request.Path.StartsWithSegments("/health"))
                .AddHttpClientInstrumentation()
                .AddEntityFrameworkCoreInstrumentation())
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                // The runtime's own meter (GC, thread pool, exceptions), built in since .NET 9.
                .AddMeter("System.Runtime")
                .AddMeter(IdentityServerMetrics.MeterName));

        if (settings.OtlpEndpoint is not null)
        {
            telemetry.UseOtlpExporter(settings.OtlpProtocol, settings.OtlpEndpoint);
        }
        else
        {
            // Reads OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL and _HEADERS itself.
            telemetry.UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>
    /// Counts token responses: successes by grant type, and the reuse of a redeemed refresh token or code, which
    /// OpenIddict reports with the documented error ID2012 (refresh token) or ID2010 (authorization code).
    /// </summary>
    internal sealed class CountTokenResponses(IdentityServerMetrics metrics)
        : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyTokenResponseContext>
    {
        public ValueTask HandleAsync(OpenIddictServerEvents.ApplyTokenResponseContext context)
        {
            if (string.IsNullOrEmpty(context.Error))
            {
                if (context.Request?.GrantType is { Length: > 0 } grantType)
                {
                    metrics.TokenIssued(grantType);
                }

                return ValueTask.CompletedTask;
            }

            var errorUri = context.Response.ErrorUri;
            if (errorUri?.EndsWith("/ID2012", StringComparison.Ordinal) == true)
            {
                metrics.ReuseDetected(TokenTypeHints.RefreshToken);
            }
            else if (errorUri?.EndsWith("/ID2010", StringComparison.Ordinal) == true)
            {
                metrics.ReuseDetected("authorization_code");
            }

            return ValueTask.CompletedTask;
        }
    }
}
