using IdentityServer.Hosting;

namespace IdentityServer.Tests.Hosting;

/// <summary>The image's HEALTHCHECK probes the address the server listens on, however the operator set it.</summary>
public sealed class HealthCheckCommandTests
{
    [Theory]
    [InlineData(null, null, "http://127.0.0.1:8080/health/live")]
    [InlineData(null, "9000", "http://127.0.0.1:9000/health/live")]
    [InlineData("http://+:5000", "8080", "http://127.0.0.1:5000/health/live")]
    [InlineData("http://0.0.0.0:5001;https://0.0.0.0:5443", null, "http://127.0.0.1:5001/health/live")]
    [InlineData("https://*:5443;http://*:5002", null, "http://127.0.0.1:5002/health/live")]
    [InlineData("http://localhost:5003", null, "http://127.0.0.1:5003/health/live")]
    [InlineData("http://10.0.0.5:5004", null, "http://10.0.0.5:5004/health/live")]
    [InlineData("http://[::1]:5005", null, "http://[::1]:5005/health/live")]
    [InlineData("http://[::]:5006", null, "http://127.0.0.1:5006/health/live")]
    [InlineData("http://myhost:5007", null, "http://127.0.0.1:5007/health/live")]
    [InlineData("https://+:8443", "8080", "https://127.0.0.1:8443/health/live")]
    [InlineData("http://+", null, "http://127.0.0.1:80/health/live")]
    public void The_probe_goes_where_kestrel_listens_with_ASPNETCORE_URLS_before_ASPNETCORE_HTTP_PORTS(string? urls, string? httpPorts, string probed) =>
        Assert.Equal(probed, HealthCheckCommand.DefaultUrl(urls, httpPorts));

    [Fact]
    public void The_probe_takes_a_url_or_the_servers_own_urls_switch()
    {
        Assert.Equal("http://127.0.0.1:9100/health/live", HealthCheckCommand.ProbeUrl(["healthcheck", "http://127.0.0.1:9100/health/live"], "http://+:1", null));
        Assert.Equal("http://127.0.0.1:9101/health/live", HealthCheckCommand.ProbeUrl(["healthcheck", "--urls", "http://0.0.0.0:9101"], "http://+:1", null));
        Assert.Equal("http://127.0.0.1:9102/health/live", HealthCheckCommand.ProbeUrl(["healthcheck"], "http://+:9102", "8080"));
        Assert.Equal("http://127.0.0.1:9103/health/live", HealthCheckCommand.ProbeUrl(["healthcheck", "--urls=http://+:9103"], null, null));
        Assert.Equal("https://127.0.0.1:9104/health/live", HealthCheckCommand.ProbeUrl(["healthcheck"], null, "", "9104"));
    }
}
