using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;

namespace IdentityServer.Benchmarks;

/// <summary>
/// panva's oidc-provider (npm), the comparison: installed with npm into a temporary folder, started with the script
/// embedded in this assembly, and driven with the same load as ours for discovery/JWKS, client_credentials,
/// introspection, userinfo and refresh_token (not login: it has no password store, see the report).
/// </summary>
internal sealed class OidcProvider : IAsyncDisposable
{
    private const string ClientId = "bench-cc";
    private const string WebClientId = "bench-web";
    private readonly HttpClient http;
    private readonly ChildProcess server;
    private readonly string secret;
    private readonly string webSecret;
    private readonly Uri token;
    private string[] refreshTokens = [];
    private string[] userinfoTokens = [];
    private string[] introspectionTokens = [];

    private OidcProvider(HttpClient http, ChildProcess server, string secret, string webSecret, string version)
    {
        this.http = http;
        this.server = server;
        this.secret = secret;
        this.webSecret = webSecret;
        token = new Uri(server.BaseAddress, "/token");
        Version = version;
    }

    public string Version { get; }

    public ChildProcess Process => server;

    /// <summary>What the script mints per worker in place of a login (see oidc-provider-server.mjs).</summary>
    private sealed record WorkerTokens(string Refresh, string Userinfo, string Introspection);

    public static async Task<OidcProvider> StartAsync(HttpClient http, Options options)
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
        var webSecret = OurServer.NewSecret();
        var child = ChildProcess.Start("oidc-provider", "node", [script], folder, new Dictionary<string, string>
        {
            ["NODE_ENV"] = "production",
            ["BENCH_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["BENCH_CLIENT_ID"] = ClientId,
            ["BENCH_CLIENT_SECRET"] = secret,
            ["BENCH_WEB_CLIENT_ID"] = WebClientId,
            ["BENCH_WEB_CLIENT_SECRET"] = webSecret,
            ["BENCH_RESOURCE"] = "urn:" + OurServer.Resource,
            ["BENCH_SCOPE"] = OurServer.Scope,
        }, port);
        var provider = new OidcProvider(http, child, secret, webSecret, version);
        try
        {
            await child.WaitUntilReadyAsync(http, "/.well-known/openid-configuration", TimeSpan.FromSeconds(30));
            // The access token must be an RS256 JWT, as ours is, or the comparison means nothing.
            RequireRs256("client_credentials access token", (await provider.ClientCredentialsAsync(default)).String("access_token"));
            if (options.Runs("refresh_token"))
            {
                await provider.CheckRefreshAsync();
            }

            return provider;
        }
        catch
        {
            await provider.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Ours answers a refresh with a new refresh token, an ID token and an RS256 JWT access token: theirs must do the
    /// same work, or the refresh_token ratio means nothing.
    /// </summary>
    private async Task CheckRefreshAsync()
    {
        var presented = (await MintTokensAsync(1, default))[0].Refresh;
        var answer = await RefreshAsync(presented, default);
        var rotated = answer.String("refresh_token");
        if (rotated == presented)
        {
            throw new InvalidOperationException("oidc-provider did not rotate the refresh token.");
        }

        RequireRs256("refresh access token", answer.String("access_token"));
        RequireRs256("refresh ID token", answer.String("id_token"));
    }

    private static void RequireRs256(string what, string jwt)
    {
        var parts = jwt.Split('.');
        using var header = parts.Length == 3 ? JsonDocument.Parse(WebEncoders.Base64UrlDecode(parts[0])) : null;
        var alg = header?.RootElement.String("alg") ?? "opaque";
        if (alg != "RS256")
        {
            throw new InvalidOperationException($"oidc-provider issued a {alg} {what}, not an RS256 JWT.");
        }
    }

    /// <summary>The script's route: per worker, the tokens a login would have left (see oidc-provider-server.mjs).</summary>
    private async Task<WorkerTokens[]> MintTokensAsync(int workers, CancellationToken cancellationToken)
    {
        var answer = await http.PostFormAsync(new Uri(server.BaseAddress, $"/bench/tokens?workers={workers}"), [],
            Http.Basic(WebClientId, webSecret), cancellationToken);
        return [.. answer.EnumerateArray().Select(t => new WorkerTokens(t.String("refresh_token"), t.String("userinfo_token"), t.String("introspection_token")))];
    }

    /// <summary>Fresh tokens just before the flows that use them, as ours gets them (lifetimes are minutes).</summary>
    private async Task PrepareTokensAsync(int connections)
    {
        var tokens = await MintTokensAsync(connections, default);
        refreshTokens = [.. tokens.Select(t => t.Refresh)];
        userinfoTokens = [.. tokens.Select(t => t.Userinfo)];
        introspectionTokens = [.. tokens.Select(t => t.Introspection)];
    }

    public Task<JsonElement> ClientCredentialsAsync(CancellationToken cancellationToken) =>
        http.PostFormAsync(token,
            [new("grant_type", "client_credentials"), new("scope", OurServer.Scope)], Http.Basic(ClientId, secret), cancellationToken);

    private Task<JsonElement> RefreshAsync(string refreshToken, CancellationToken cancellationToken) =>
        http.PostFormAsync(token, [new("grant_type", "refresh_token"), new("refresh_token", refreshToken)],
            Http.Basic(WebClientId, webSecret), cancellationToken);

    public async IAsyncEnumerable<FlowResult> RunAsync(Options options)
    {
        var n = options.Connections;
        if (options.Runs("discovery"))
        {
            yield return await Run("discovery", await http.DiscoveryOperationAsync(server.BaseAddress, n));
        }

        if (options.Runs("client_credentials"))
        {
            yield return await Run("client_credentials", (w, ct) => ClientCredentialsAsync(ct));
        }

        // Endpoints from its discovery document: its paths are not ours.
        var discovery = default(JsonElement);
        if (options.Runs("introspection") || options.Runs("userinfo") || options.Runs("refresh_token"))
        {
            discovery = await http.GetJsonAsync(new Uri(server.BaseAddress, "/.well-known/openid-configuration"), null, default);
            await PrepareTokensAsync(n);
        }

        if (options.Runs("introspection"))
        {
            var introspect = new Uri(discovery.String("introspection_endpoint"));
            var basic = Http.Basic(ClientId, secret);
            yield return await Run("introspection", async (w, ct) =>
            {
                // An opaque client_credentials token: it answers unsupported_token_type for its JWTs.
                var answer = await http.PostFormAsync(introspect, [new("token", introspectionTokens[w]), new("token_type_hint", "access_token")], basic, ct);
                if (!answer.TryGetProperty("active", out var active) || !active.GetBoolean())
                {
                    throw new BenchmarkException("introspection: token not active");
                }
            });
        }

        if (options.Runs("userinfo"))
        {
            var userinfo = new Uri(discovery.String("userinfo_endpoint"));
            // An opaque access token without audience: it takes no other kind there (ours takes our JWT).
            yield return await Run("userinfo", (w, ct) =>
                http.GetJsonAsync(userinfo, new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", userinfoTokens[w]), ct));
        }

        if (options.Runs("refresh_token"))
        {
            yield return await Run("refresh_token", async (w, ct) =>
            {
                // Each worker walks its own chain: the rotated token is the one used next.
                refreshTokens[w] = (await RefreshAsync(refreshTokens[w], ct)).String("refresh_token");
            });
        }

        Task<FlowResult> Run(string flow, LoadRunner.Operation operation) =>
            LoadRunner.RunAsync(flow, server, n, options.Warmup, options.Duration, operation);
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
