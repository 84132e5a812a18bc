using System.Diagnostics;
using System.Text.Json;

namespace IdentityServer.Benchmarks;

/// <summary>
/// panva's oidc-provider (npm), the comparison: installed with npm into a temporary folder, started with the script
/// embedded in this assembly, and driven with the same client_credentials and discovery/JWKS load.
/// </summary>
internal sealed class OidcProvider : IAsyncDisposable
{
    private const string ClientId = "bench-cc";
    private readonly HttpClient http;
    private readonly ChildProcess server;
    private readonly string secret;

    private OidcProvider(HttpClient http, ChildProcess server, string secret, string version)
    {
        this.http = http;
        this.server = server;
        this.secret = secret;
        Version = version;
    }

    public string Version { get; }

    public ChildProcess Process => server;

    public static async Task<OidcProvider> StartAsync(HttpClient http)
    {
        var folder = Path.Combine(Path.GetTempPath(), "identityserver-bench-oidc-provider");
        Directory.CreateDirectory(folder);
        Console.WriteLine($"  npm install --prefix {folder} oidc-provider@9");
        await RunToEndAsync("npm", ["install", "--prefix", folder, "oidc-provider@9", "--no-audit", "--no-fund", "--loglevel=error"], folder, TimeSpan.FromMinutes(3));
        using var package = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "node_modules", "oidc-provider", "package.json")));
        var version = package.RootElement.GetProperty("version").GetString() ?? "?";

        var script = Path.Combine(folder, "server.mjs");
        await using (var resource = typeof(OidcProvider).Assembly.GetManifestResourceStream("oidc-provider-server.mjs")
            ?? throw new InvalidOperationException("The oidc-provider script is not embedded."))
        await using (var file = File.Create(script))
        {
            await resource.CopyToAsync(file);
        }

        var port = ChildProcess.FreePort();
        var secret = OurServer.NewSecret();
        var child = ChildProcess.Start("oidc-provider", "node", [script], folder, new Dictionary<string, string>
        {
            ["NODE_ENV"] = "production",
            ["BENCH_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["BENCH_CLIENT_ID"] = ClientId,
            ["BENCH_CLIENT_SECRET"] = secret,
            ["BENCH_RESOURCE"] = "urn:" + OurServer.Resource,
            ["BENCH_SCOPE"] = OurServer.Scope,
        }, port);
        var provider = new OidcProvider(http, child, secret, version);
        try
        {
            await child.WaitUntilReadyAsync(http, "/.well-known/openid-configuration", TimeSpan.FromSeconds(30));
            // The access token must be an RS256 JWT, as ours is, or the comparison means nothing.
            var accessToken = (await provider.ClientCredentialsAsync(default)).String("access_token");
            var header = JsonDocument.Parse(Microsoft.AspNetCore.WebUtilities.WebEncoders.Base64UrlDecode(accessToken.Split('.')[0])).RootElement;
            if (header.String("alg") != "RS256")
            {
                throw new InvalidOperationException($"oidc-provider issued a {header.String("alg")} access token, not RS256.");
            }

            return provider;
        }
        catch
        {
            await provider.DisposeAsync();
            throw;
        }
    }

    public Task<JsonElement> ClientCredentialsAsync(CancellationToken cancellationToken) =>
        http.PostFormAsync(new Uri(server.BaseAddress, "/token"),
            [new("grant_type", "client_credentials"), new("scope", OurServer.Scope)], Http.Basic(ClientId, secret), cancellationToken);

    public async IAsyncEnumerable<FlowResult> RunAsync(Options options)
    {
        var n = options.Connections;
        if (options.Runs("discovery"))
        {
            yield return await LoadRunner.RunAsync("discovery", server, n, options.Warmup, options.Duration,
                await http.DiscoveryOperationAsync(server.BaseAddress, n));
        }

        if (options.Runs("client_credentials"))
        {
            yield return await LoadRunner.RunAsync("client_credentials", server, n, options.Warmup, options.Duration,
                (w, ct) => ClientCredentialsAsync(ct));
        }
    }

    private static async Task RunToEndAsync(string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(fileName) { WorkingDirectory = workingDirectory, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish within {timeout}.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} failed ({process.ExitCode}): {await output}{await errors}");
        }
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();
}
