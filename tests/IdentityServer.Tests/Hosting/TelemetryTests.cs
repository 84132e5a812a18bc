using System.Diagnostics.Metrics;
using System.Net;
using IdentityServer.Hosting;
using IdentityServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace IdentityServer.Tests.Hosting;

/// <summary>The "IdentityServer" meter counts what the server does, read the way an exporter reads it.</summary>
public sealed class TelemetryTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private MetricCollector<long> Collect(string instrument) =>
        new(factory.Services.GetRequiredService<IMeterFactory>(), IdentityServerMetrics.MeterName, instrument);

    private static long Sum(MetricCollector<long> collector, string tag, string value) =>
        collector.GetMeasurementSnapshot().Where(m => Equals(m.Tags[tag], value)).Sum(m => m.Value);

    [Fact]
    public async Task Logins_tokens_by_grant_and_refresh_and_code_reuse_are_counted()
    {
        var client = await tokens.RegisterCodeClientAsync("metrics-app");
        await tokens.RegisterUserAsync("mallory", "mallory-password-1");
        using var issued = Collect("identityserver.tokens.issued");
        using var logins = Collect("identityserver.logins");
        using var reuse = Collect("identityserver.tokens.reuse_detected");

        await tokens.AdminTokenAsync();
        var browser = new BrowserSession(factory);
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "mallory", "wrong-password-1");
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "nobody-at-all", "wrong-password-1");
        var body = await tokens.LogInAndRedeemAsync(browser, client, "mallory", "mallory-password-1");
        var refreshToken = body.GetProperty("refresh_token").GetString()!;
        var (refreshed, _) = await tokens.RefreshAsync(client, refreshToken);
        var (reused, reusedBody) = await tokens.RefreshAsync(client, refreshToken);
        // A second flow: presenting its code twice revokes that flow's tokens too.
        var pkce = Pkce.Create();
        var code = await OAuthFlows.CodeFromAsync(await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce)), client);
        await tokens.RedeemCodeAsync(client, code, pkce);
        var (codeAgain, _) = await tokens.RedeemCodeAsync(client, code, pkce);

        Assert.Equal(HttpStatusCode.BadRequest, codeAgain);
        Assert.Equal(HttpStatusCode.OK, refreshed);
        Assert.Equal(HttpStatusCode.BadRequest, reused);
        Assert.Equal("invalid_grant", reusedBody.GetProperty("error").GetString());
        Assert.Equal(1, Sum(issued, "grant_type", "client_credentials"));
        Assert.Equal(2, Sum(issued, "grant_type", "authorization_code"));
        Assert.Equal(1, Sum(issued, "grant_type", "refresh_token"));
        Assert.Equal(2, Sum(logins, "result", "failed"));
        Assert.Equal(1, Sum(logins, "result", "succeeded"));
        Assert.Equal(1, Sum(reuse, "token_type", "refresh_token"));
        Assert.Equal(1, Sum(reuse, "token_type", "authorization_code"));
    }

    [Fact]
    public async Task A_refused_client_is_not_counted_as_an_issued_token()
    {
        using var issued = Collect("identityserver.tokens.issued");

        var (status, _) = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin" },
            IdentityServerFactory.AdminClientId, "not-the-secret");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Empty(issued.GetMeasurementSnapshot());
    }
}

/// <summary>With a collector configured, the OpenTelemetry SDK is registered and the host still starts and serves.</summary>
public sealed class OpenTelemetryExportTests : IDisposable
{
    // Port 9 (discard) on loopback: nothing listens, the exporter's failed sends stay inside the process.
    private readonly IdentityServerFactory factory = new IdentityServerFactory().With("Telemetry:OtlpEndpoint", "http://127.0.0.1:9");

    [Fact]
    public async Task An_otlp_endpoint_switches_the_sdk_on()
    {
        using var response = await factory.CreateClient().GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(factory.Services.GetService<OpenTelemetry.Metrics.MeterProvider>());
        Assert.NotNull(factory.Services.GetService<OpenTelemetry.Trace.TracerProvider>());
    }

    [Fact]
    public void Without_an_endpoint_no_sdk_is_registered()
    {
        using var plain = new IdentityServerFactory();

        Assert.Null(plain.Services.GetService<OpenTelemetry.Metrics.MeterProvider>());
    }

    public void Dispose() => factory.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
