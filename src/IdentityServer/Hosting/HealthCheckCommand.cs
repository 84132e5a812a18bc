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

    /// <summary>The first port of ASPNETCORE_HTTP_PORTS (the .NET images set 8080), over loopback.</summary>
    private static string DefaultUrl()
    {
        var ports = Environment.GetEnvironmentVariable("ASPNETCORE_HTTP_PORTS");
        var port = ports?.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "8080";
        return $"http://127.0.0.1:{port}/health/live";
    }
}
