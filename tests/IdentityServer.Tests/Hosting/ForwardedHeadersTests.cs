using System.Net;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Hosting;

/// <summary>
/// The in-memory server, with the connection's addresses taken from test headers: TestServer leaves them null,
/// and ForwardedHeadersMiddleware trusts a null remote address as if it were a known proxy.
/// </summary>
public sealed class ProxiedServerFactory : IdentityServerFactory
{
    public const string TrustedProxy = "192.0.2.10";
    public const string RemoteIpHeader = "X-Test-Remote-Ip";
    public const string LocalIpHeader = "X-Test-Local-Ip";

    public ProxiedServerFactory()
        : this(trustProxy: true)
    {
    }

    internal ProxiedServerFactory(bool trustProxy)
    {
        if (trustProxy)
        {
            With("ForwardedHeaders:KnownProxies:0", TrustedProxy);
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddTransient<IStartupFilter, ConnectionAddresses>());
    }

    private sealed class ConnectionAddresses : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                context.Connection.RemoteIpAddress = Address(context, RemoteIpHeader) ?? IPAddress.Loopback;
                context.Connection.LocalIpAddress = Address(context, LocalIpHeader) ?? IPAddress.Loopback;
                return nextMiddleware(context);
            });
            next(app);
        };

        private static IPAddress? Address(HttpContext context, string header) =>
            context.Request.Headers.TryGetValue(header, out var value) ? IPAddress.Parse(value.ToString()) : null;
    }
}

public sealed class ForwardedHeadersTests(ProxiedServerFactory factory) : IClassFixture<ProxiedServerFactory>
{
    private static async Task<JsonElement> DiscoveryAsync(IdentityServerFactory server, string remoteIp, string? localIp = null, string? prefix = null)
    {
        using var response = await SendDiscoveryAsync(server, remoteIp, localIp, prefix);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await TokenClient.ReadJsonAsync(response);
    }

    private static async Task<HttpResponseMessage> SendDiscoveryAsync(IdentityServerFactory server, string remoteIp, string? localIp, string? prefix)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration");
        if (prefix is not null)
        {
            request.Headers.Add("X-Forwarded-Prefix", prefix);
        }

        request.Headers.Add(ProxiedServerFactory.RemoteIpHeader, remoteIp);
        if (localIp is not null)
        {
            request.Headers.Add(ProxiedServerFactory.LocalIpHeader, localIp);
        }

        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "id.example.com");
        request.Headers.Add("X-Forwarded-For", "198.51.100.7");
        return await server.CreateClient().SendAsync(request);
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_with_no_configured_issuer_discovery_shows_the_public_https_urls()
    {
        // The proxy reaches the pod on its network address over plain HTTP; TLS ended at the proxy.
        var discovery = await DiscoveryAsync(factory, ProxiedServerFactory.TrustedProxy, localIp: "192.0.2.20");

        Assert.Equal("https://id.example.com", discovery.GetProperty("issuer").GetString());
        foreach (var endpoint in new[] { "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "end_session_endpoint" })
        {
            Assert.StartsWith("https://id.example.com/", discovery.GetProperty(endpoint).GetString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("/auth")]
    [InlineData("//evil.example")]
    public async Task Without_an_issuer_path_X_Forwarded_Prefix_is_not_read_even_from_a_trusted_proxy(string prefix)
    {
        // A proxy that does not clear the header would otherwise let any client choose the base of links and redirects.
        var discovery = await DiscoveryAsync(factory, ProxiedServerFactory.TrustedProxy, localIp: "192.0.2.20", prefix: prefix);

        Assert.Equal("https://id.example.com", discovery.GetProperty("issuer").GetString());
        Assert.Equal("https://id.example.com/connect/authorize", discovery.GetProperty("authorization_endpoint").GetString());
    }

    [Fact]
    public async Task With_an_issuer_under_a_path_the_proxy_may_strip_it_if_it_names_that_path_and_no_other()
    {
        await using var proxied = new ProxiedServerFactory();
        proxied.With("IdentityServer:Issuer", "https://id.example.com/auth");

        foreach (var prefix in new[] { "/auth", "/auth/" })
        {
            var discovery = await DiscoveryAsync(proxied, ProxiedServerFactory.TrustedProxy, localIp: "192.0.2.20", prefix: prefix);
            Assert.Equal("https://id.example.com/auth", discovery.GetProperty("issuer").GetString());
            Assert.Equal("https://id.example.com/auth/connect/token", discovery.GetProperty("token_endpoint").GetString());
        }

        foreach (var prefix in new[] { "/other", "//evil.example", "/AUTH" })
        {
            using var elsewhere = await SendDiscoveryAsync(proxied, ProxiedServerFactory.TrustedProxy, "192.0.2.20", prefix);
            Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
        }
    }

    [Fact]
    public async Task With_a_configured_issuer_discovery_names_its_endpoints_under_it_whatever_host_the_request_named()
    {
        await using var proxied = new ProxiedServerFactory();
        proxied.With("IdentityServer:Issuer", "https://id.example.com");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration");
        request.Headers.Add(ProxiedServerFactory.RemoteIpHeader, ProxiedServerFactory.TrustedProxy);
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "upstream.internal:8080");

        using var response = await proxied.CreateClient().SendAsync(request);
        var discovery = await TokenClient.ReadJsonAsync(response);

        Assert.Equal("https://id.example.com", discovery.GetProperty("issuer").GetString());
        foreach (var endpoint in new[] { "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "end_session_endpoint", "introspection_endpoint", "revocation_endpoint" })
        {
            Assert.StartsWith("https://id.example.com/", discovery.GetProperty(endpoint).GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Forwarded_headers_from_an_untrusted_address_are_ignored()
    {
        var discovery = await DiscoveryAsync(factory, "192.0.2.99", prefix: "/auth");

        Assert.Equal("http://localhost", discovery.GetProperty("issuer").GetString());
    }

    [Fact]
    public async Task With_no_proxy_configured_no_sender_is_trusted_not_even_loopback()
    {
        await using var direct = new ProxiedServerFactory(trustProxy: false);

        var discovery = await DiscoveryAsync(direct, "127.0.0.1");

        Assert.Equal("http://localhost", discovery.GetProperty("issuer").GetString());
    }

    [Theory]
    [InlineData("ForwardedHeaders:KnownProxies", ProxiedServerFactory.TrustedProxy)]
    [InlineData("ForwardedHeaders:KnownProxies", "192.0.2.1, " + ProxiedServerFactory.TrustedProxy)]
    [InlineData("ForwardedHeaders:KnownNetworks", "192.0.2.0/24")]
    public async Task A_proxy_given_as_one_value_without_an_index_is_trusted(string key, string value)
    {
        await using var proxied = new ProxiedServerFactory(trustProxy: false);
        proxied.With(key, value);

        var discovery = await DiscoveryAsync(proxied, ProxiedServerFactory.TrustedProxy, localIp: "192.0.2.20");

        Assert.Equal("https://id.example.com", discovery.GetProperty("issuer").GetString());
    }

    [Fact]
    public async Task Plain_http_off_loopback_is_refused_but_the_probes_answer()
    {
        var client = factory.CreateClient();
        async Task<HttpStatusCode> GetAsync(string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add(ProxiedServerFactory.RemoteIpHeader, "192.0.2.30");
            request.Headers.Add(ProxiedServerFactory.LocalIpHeader, "192.0.2.20");
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.BadRequest, await GetAsync("/.well-known/openid-configuration"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/health/live"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("/health/ready"));
    }

    [Fact]
    public async Task Plain_http_on_loopback_for_a_public_host_name_is_refused_so_no_plain_http_issuer_leaves_loopback()
    {
        // As behind a same-host proxy that forwards port 80 without saying so: the issuer would be http://id.example.com/.
        await using var direct = new ProxiedServerFactory(trustProxy: false);
        async Task<HttpStatusCode> DiscoveryForAsync(string host)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration");
            request.Headers.Host = host;
            request.Headers.Add(ProxiedServerFactory.RemoteIpHeader, "127.0.0.1");
            using var response = await direct.CreateClient().SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.BadRequest, await DiscoveryForAsync("id.example.com"));
        Assert.Equal(HttpStatusCode.OK, await DiscoveryForAsync("localhost:5000"));
        Assert.Equal(HttpStatusCode.OK, await DiscoveryForAsync("127.0.0.1:5000"));
        Assert.Equal(HttpStatusCode.OK, await DiscoveryForAsync("[::1]:5000"));
    }

    [Fact]
    public async Task Behind_two_trusted_proxies_each_client_address_keeps_its_own_token_budget()
    {
        // A load balancer (the trusted proxy) in front of an ingress (the inner proxy), both known and counted: the
        // address the limits count is the client's, not the outer proxy's, so one busy client does not stop everyone.
        const string innerProxy = "192.0.2.11";
        await using var server = new ProxiedServerFactory();
        server.With("ForwardedHeaders:KnownProxies:1", innerProxy).With("ForwardedHeaders:ForwardLimit", "2")
            .With("RateLimits:ProtocolRequestsPerIp", "2");
        var statuses = new List<(string Client, HttpStatusCode Status)>();
        foreach (var client in new[] { "198.51.100.7", "198.51.100.7", "198.51.100.7", "198.51.100.8" })
        {
            statuses.Add((client, await TokenRequestAsync(server, innerProxy, $"{client}, {ProxiedServerFactory.TrustedProxy}")));
        }

        Assert.Equal(
            [("198.51.100.7", HttpStatusCode.BadRequest), ("198.51.100.7", HttpStatusCode.BadRequest),
             ("198.51.100.7", HttpStatusCode.TooManyRequests), ("198.51.100.8", HttpStatusCode.BadRequest)],
            statuses);
    }

    [Fact]
    public async Task Ipv6_clients_are_counted_per_64_bit_prefix_as_one_host_holds_a_whole_prefix()
    {
        await using var server = new ProxiedServerFactory();
        server.With("RateLimits:ProtocolRequestsPerIp", "2");
        var statuses = new List<HttpStatusCode>();
        foreach (var client in new[] { "2001:db8:1:2::10", "2001:db8:1:2:ffff::1", "2001:db8:1:2:abcd::99", "2001:db8:1:3::10" })
        {
            statuses.Add(await TokenRequestAsync(server, ProxiedServerFactory.TrustedProxy, client));
        }

        Assert.Equal([HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.TooManyRequests, HttpStatusCode.BadRequest], statuses);
    }

    // An unsupported grant: refused with 400 before any client check, so only the limiter can answer otherwise.
    private static async Task<HttpStatusCode> TokenRequestAsync(IdentityServerFactory server, string proxy, string forwardedFor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "urn:example:unknown" }),
        };
        request.Headers.Add(ProxiedServerFactory.RemoteIpHeader, proxy);
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        using var response = await server.CreateClient().SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task With_one_proxy_counted_a_client_cannot_pass_itself_off_as_another_address_or_host()
    {
        // The default: only the nearest hop is read. A client's own X-Forwarded-For and -Host entries, passed through
        // by the proxy in front of the list, are not believed.
        await using var server = new ProxiedServerFactory();
        server.With("RateLimits:ProtocolRequestsPerIp", "2");
        var statuses = new List<HttpStatusCode>();
        foreach (var spoofed in new[] { "203.0.113.1", "203.0.113.2", "203.0.113.3" })
        {
            statuses.Add(await TokenRequestAsync(server, ProxiedServerFactory.TrustedProxy, $"{spoofed}, 198.51.100.9"));
        }

        Assert.Equal([HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.TooManyRequests], statuses);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration");
        request.Headers.Add(ProxiedServerFactory.RemoteIpHeader, ProxiedServerFactory.TrustedProxy);
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "evil.example, id.example.com");
        request.Headers.Add("X-Forwarded-For", "203.0.113.1, 198.51.100.9");
        var discovery = await TokenClient.ReadJsonAsync(await server.CreateClient().SendAsync(request));
        Assert.Equal("https://id.example.com", discovery.GetProperty("issuer").GetString());
    }
}
