namespace IdentityServer.Hosting;

/// <summary>
/// <c>dotnet IdentityServer.dll healthcheck [url]</c>: the container image's HEALTHCHECK. Chiseled images ship no
/// shell, curl or wget, so the host probes its own <c>/health/live</c> over loopback and exits 0 (healthy) or 1.
/// It runs before any host is built: no configuration, database or keys are touched.
/// </summary>
public static class HealthCheckCommand
{
    public static bool IsRequested(string[] args) => args is ["healthcheck", ..];

    public static async Task<int> RunAsync(string[] args)
    {
        var url = args.Length > 1 ? args[1] : DefaultUrl();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
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
    /// 8080). The first plain-HTTP address, with a wildcard host read as loopback.
    /// </summary>
    internal static string DefaultUrl(string? urls, string? httpPorts)
    {
        static string[] List(string? value) =>
            value?.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

        var listened = List(urls);
        if (listened.FirstOrDefault(url => url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) is { } http)
        {
            var authority = http["http://".Length..].Split('/')[0];
            var colon = authority.LastIndexOf(':');
            var host = colon > 0 && !authority.EndsWith(']') ? authority[..colon] : authority;
            var port = colon > 0 && !authority.EndsWith(']') ? authority[(colon + 1)..] : "80";
            host = host is "+" or "*" or "0.0.0.0" or "[::]" or "localhost" ? "127.0.0.1" : host;
            return $"http://{host}:{port}/health/live";
        }

        var firstPort = List(httpPorts).FirstOrDefault() ?? "8080";
        return $"http://127.0.0.1:{firstPort}/health/live";
    }

    private static string DefaultUrl() =>
        DefaultUrl(Environment.GetEnvironmentVariable("ASPNETCORE_URLS"), Environment.GetEnvironmentVariable("ASPNETCORE_HTTP_PORTS"));
}
