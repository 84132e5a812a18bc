namespace IdentityServer.Hosting;

/// <summary>
/// <c>dotnet IdentityServer.dll healthcheck [url | --urls urls]</c>: the container image's HEALTHCHECK. Chiseled images ship no
/// shell, curl or wget, so the host probes its own <c>/health/live</c> over loopback and exits 0 (healthy) or 1.
/// It runs before any host is built: no configuration, database or keys are touched.
/// </summary>
public static class HealthCheckCommand
{
    public static bool IsRequested(string[] args) => args is ["healthcheck", ..];

    public static async Task<int> RunAsync(string[] args)
    {
        var url = ProbeUrl(args, Environment.GetEnvironmentVariable("ASPNETCORE_URLS"), Environment.GetEnvironmentVariable("ASPNETCORE_HTTP_PORTS"),
            Environment.GetEnvironmentVariable("ASPNETCORE_HTTPS_PORTS"));
        using var handler = new HttpClientHandler
        {
            // The server probes itself: its certificate names the public host, not the address probed, and the probe
            // sends nothing but reads a status code.
            ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(new Uri(url));
            await Console.Out.WriteLineAsync($"{url}: {(int)response.StatusCode}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or UriFormatException)
        {
            await Console.Error.WriteLineAsync($"{url}: {exception.Message}");
            return 1;
        }
    }

    /// <summary>
    /// Where Kestrel listens as it decides it: ASPNETCORE_URLS wins over ASPNETCORE_HTTP_PORTS (the .NET images set
    /// 8080). Its first plain-HTTP address, else its first HTTPS one, probed over loopback unless it names an address.
    /// </summary>
    internal static string DefaultUrl(string? urls, string? httpPorts, string? httpsPorts = null)
    {
        static string[] List(string? value) =>
            value?.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

        var listened = List(urls);
        var chosen = listened.FirstOrDefault(url => url.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            ?? listened.FirstOrDefault(url => url.StartsWith("https://", StringComparison.OrdinalIgnoreCase));
        if (chosen is not null)
        {
            var scheme = chosen[..chosen.IndexOf("://", StringComparison.Ordinal)].ToLowerInvariant();
            var authority = chosen[(scheme.Length + 3)..].Split('/')[0];
            var colon = authority.LastIndexOf(':');
            var hasPort = colon > 0 && !authority.EndsWith(']');
            var host = hasPort ? authority[..colon] : authority;
            var port = hasPort ? authority[(colon + 1)..] : scheme == "https" ? "443" : "80";
            // A wildcard or a name (Kestrel listens on every interface for a name other than localhost) is probed over
            // loopback; an address, where it listens only there.
            host = System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address)
                && !address.Equals(System.Net.IPAddress.Any) && !address.Equals(System.Net.IPAddress.IPv6Any)
                ? host
                : "127.0.0.1";
            return $"{scheme}://{host}:{port}/health/live";
        }

        if (List(httpPorts).FirstOrDefault() is { } httpPort)
        {
            return $"http://127.0.0.1:{httpPort}/health/live";
        }

        return List(httpsPorts).FirstOrDefault() is { } httpsPort
            ? $"https://127.0.0.1:{httpsPort}/health/live"
            : "http://127.0.0.1:8080/health/live";
    }

    /// <summary>A URL given, where <c>--urls</c> (the switch the server itself takes) says, or where Kestrel listens.</summary>
    internal static string ProbeUrl(string[] args, string? urls, string? httpPorts, string? httpsPorts = null) => args switch
    {
        [_, var flag, var listened, ..] when flag.Equals("--urls", StringComparison.OrdinalIgnoreCase) => DefaultUrl(listened, null),
        [_, var flag, ..] when flag.StartsWith("--urls=", StringComparison.OrdinalIgnoreCase) => DefaultUrl(flag["--urls=".Length..], null),
        [_, var given, ..] => given,
        _ => DefaultUrl(urls, httpPorts, httpsPorts),
    };
}
