using IdentityServer.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace IdentityServer.Tests.Hosting;

/// <summary>HTTPS everywhere but loopback: which addresses the server agrees to start on.</summary>
public sealed class InsecureBindingTests
{
    [Theory]
    [InlineData("http://127.0.0.1:5000")]
    [InlineData("http://localhost:5000")]
    [InlineData("http://[::1]:5000")]
    [InlineData("https://0.0.0.0:8443")]
    [InlineData("https://+:8443")]
    public async Task The_server_starts_on_loopback_http_and_on_https_anywhere(string address) =>
        await StartedAsync(address, knownProxy: null);

    [Theory]
    [InlineData("http://0.0.0.0:8080")]
    [InlineData("http://+:8080")]
    [InlineData("http://*:8080")]
    [InlineData("http://10.1.2.3:8080")]
    public async Task The_server_refuses_to_start_on_a_public_plain_http_address_without_a_trusted_proxy(string address) =>
        await Assert.ThrowsAsync<InvalidOperationException>(() => StartedAsync(address, knownProxy: null));

    [Fact]
    public async Task The_server_starts_on_a_public_plain_http_address_behind_a_configured_proxy() =>
        await StartedAsync("http://0.0.0.0:8080", knownProxy: "10.0.0.5");

    [Fact]
    public async Task The_server_starts_with_a_plain_http_probe_port_beside_its_own_https() =>
        await StartedAsync(["https://0.0.0.0:8443", "http://0.0.0.0:8080"], knownProxy: null);

    private static Task StartedAsync(string address, string? knownProxy) => StartedAsync([address], knownProxy);

    private static Task StartedAsync(string[] addresses, string? knownProxy)
    {
        var proxies = new TransportSecurity.ProxyOptions();
        if (knownProxy is not null)
        {
            proxies.KnownProxies.Add(knownProxy);
        }

        var check = new TransportSecurity.RefuseInsecureBinding(
            new ServerAt(addresses), Options.Create(proxies), NullLogger<TransportSecurity.RefuseInsecureBinding>.Instance);
        return check.StartedAsync(CancellationToken.None);
    }

    private sealed class ServerAt : IServer
    {
        public ServerAt(string[] addresses)
        {
            var feature = new ServerAddressesFeature();
            foreach (var address in addresses)
            {
                feature.Addresses.Add(address);
            }

            Features.Set<IServerAddressesFeature>(feature);
        }

        public IFeatureCollection Features { get; } = new FeatureCollection();

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose()
        {
        }
    }
}
