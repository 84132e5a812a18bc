using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;

namespace IdentityServer.Benchmarks;

/// <summary>
/// Our server as a child process (the built IdentityServer.dll, Production settings, Warning logs, rate limits off)
/// on its own database, set up through the admin API with the clients, scope and users the flows need.
/// </summary>
internal sealed partial class OurServer : IAsyncDisposable
{
    public const string Resource = "bench-api";
    public const string Scope = "bench.api";
    private const string RedirectUri = "http://127.0.0.1:9/callback";
    /// <summary>A secret a person typed: long enough for the admin API, but a phrase, so it keeps PBKDF2.</summary>
    private const string HumanSecret = "correct horse battery staple";

    private readonly HttpClient http;
    private readonly ChildProcess server;
    private readonly Uri token;
    private string ccSecret = "";

    /// <summary>The BCrypt verify time measured around the login flow (the mean of just before and just after), once it ran.</summary>
    public double? BcryptVerifyMsAroundLogin { get; private set; }

    /// <summary>Discovery fetched now and then by one more client while the logins ran (warm-up included), once they ran.</summary>
    public ProbeResult? DiscoveryDuringLogins { get; private set; }

    private string webSecret = "";
    private string[] userPasswords = [];
    private string[] userNames = [];
    private string[] ccTokens = [];
    private string[] userAccessTokens = [];
    private string[] refreshTokens = [];

    private OurServer(HttpClient http, ChildProcess server)
    {
        this.http = http;
        this.server = server;
        token = new Uri(server.BaseAddress, "/connect/token");
    }

    public ChildProcess Process => server;

    public static async Task<OurServer> StartAsync(Options options, string serverDll, string connectionString, HttpClient http)
    {
        var port = ChildProcess.FreePort();
        var adminSecret = NewSecret();
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
            ["Database__Provider"] = options.Provider,
            ["ConnectionStrings__IdentityServer"] = connectionString,
            ["RateLimits__Enabled"] = "false",
            ["Passwords__BcryptWorkFactor"] = options.BcryptCost.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Bootstrap__AdminClientId"] = "bench-admin",
            ["Bootstrap__AdminClientSecret"] = adminSecret,
        };
        foreach (var (key, value) in options.ServerEnvironment)
        {
            environment[key] = value;
        }

        var child = ChildProcess.Start("IdentityServer", "dotnet", [serverDll, "--urls", $"http://127.0.0.1:{port}"],
            Path.GetDirectoryName(serverDll)!, environment, port);
        var ours = new OurServer(http, child);
        try
        {
            await child.WaitUntilReadyAsync(http, "/health/ready", TimeSpan.FromSeconds(90));
            await ours.SetUpAsync(adminSecret, options.Connections);
            return ours;
        }
        catch
        {
            await ours.DisposeAsync();
            throw;
        }
    }

    public static string NewSecret() => WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    private async Task SetUpAsync(string adminSecret, int connections)
    {
        var admin = (await http.PostFormAsync(token, Form(("grant_type", "client_credentials"), ("scope", "admin")),
            Http.Basic("bench-admin", adminSecret), CancellationToken.None)).String("access_token");
        Uri Admin(string path) => new(server.BaseAddress, path);

        await http.PostJsonAsync(Admin("/admin/scopes"), new { name = Scope, displayName = "Benchmark API", resources = new[] { Resource } }, admin, default);
        // A generated secret (the admin API's default) and a human-chosen one: the two ways client secrets are stored.
        ccSecret = (await http.PostJsonAsync(Admin("/admin/clients"), new
        {
            clientId = "bench-cc", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = new[] { Scope },
        }, admin, default)).String("clientSecret");
        await http.PostJsonAsync(Admin("/admin/clients"), new
        {
            clientId = "bench-cc-human", clientType = "confidential", clientSecret = HumanSecret,
            grantTypes = new[] { "client_credentials" }, scopes = new[] { Scope },
        }, admin, default);
        webSecret = (await http.PostJsonAsync(Admin("/admin/clients"), new
        {
            clientId = "bench-web", clientType = "confidential", redirectUris = new[] { RedirectUri },
            grantTypes = new[] { "authorization_code", "refresh_token" },
            scopes = new[] { "openid", "profile", "email", "offline_access", Scope }, consentType = "implicit",
        }, admin, default)).String("clientSecret");

        // One user per worker, so that concurrent logins do not all update the same row.
        userNames = [.. Enumerable.Range(0, connections).Select(i => $"bench-user-{i}")];
        userPasswords = [.. Enumerable.Range(0, connections).Select(i => $"bench-password-{i}-{NewSecret()[..8]}")];
        await Parallel.ForAsync(0, connections, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
            await http.PostJsonAsync(Admin("/admin/users"), new
            {
                username = userNames[i], email = $"{userNames[i]}@bench.invalid", password = userPasswords[i], roles = Array.Empty<string>(), enabled = true,
            }, admin, ct));
    }

    /// <summary>Tokens the read-only flows and the refresh chains start from: one login and one client token per worker.</summary>
    public async Task PrepareTokensAsync(int connections)
    {
        ccTokens = new string[connections];
        userAccessTokens = new string[connections];
        refreshTokens = new string[connections];
        await Parallel.ForAsync(0, connections, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
        {
            ccTokens[i] = (await ClientCredentialsAsync("bench-cc", ccSecret, ct)).String("access_token");
            var tokens = await LogInAsync(i, ct);
            userAccessTokens[i] = tokens.String("access_token");
            refreshTokens[i] = tokens.String("refresh_token");
        });
    }

    public async IAsyncEnumerable<FlowResult> RunAsync(Options options)
    {
        var n = options.Connections;
        if (options.Runs("discovery"))
        {
            yield return await Run("discovery", await http.DiscoveryOperationAsync(server.BaseAddress, n));
        }

        if (options.Runs("client_credentials"))
        {
            yield return await Run("client_credentials", (w, ct) => ClientCredentialsAsync("bench-cc", ccSecret, ct));
        }

        if (options.Runs("client_credentials_pbkdf2"))
        {
            yield return await Run("client_credentials_pbkdf2", (w, ct) => ClientCredentialsAsync("bench-cc-human", HumanSecret, ct));
        }

        if (options.Runs("introspection") || options.Runs("userinfo") || options.Runs("refresh_token"))
        {
            await PrepareTokensAsync(n);
        }

        if (options.Runs("introspection"))
        {
            var introspect = new Uri(server.BaseAddress, "/connect/introspect");
            var basic = Http.Basic("bench-cc", ccSecret);
            yield return await Run("introspection", async (w, ct) =>
            {
                var answer = await http.PostFormAsync(introspect, Form(("token", ccTokens[w]), ("token_type_hint", "access_token")), basic, ct);
                if (!answer.TryGetProperty("active", out var active) || !active.GetBoolean())
                {
                    throw new BenchmarkException("introspection: token not active");
                }
            });
        }

        if (options.Runs("userinfo"))
        {
            var userinfo = new Uri(server.BaseAddress, "/connect/userinfo");
            yield return await Run("userinfo", (w, ct) =>
                http.GetJsonAsync(userinfo, new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", userAccessTokens[w]), ct));
        }

        if (options.Runs("refresh_token"))
        {
            var basic = Http.Basic("bench-web", webSecret);
            yield return await Run("refresh_token", async (w, ct) =>
            {
                // Each worker walks its own chain: the rotated token is the one used next.
                var answer = await http.PostFormAsync(token, Form(("grant_type", "refresh_token"), ("refresh_token", refreshTokens[w])), basic, ct);
                refreshTokens[w] = answer.String("refresh_token");
            });
        }

        if (options.Runs("login"))
        {
            // The ceiling a login is held to is measured just before and just after the logins, so that both see the
            // host as it was then (on a shared host one BCrypt verify varied by 15% within one run).
            var before = BcryptCeiling.MeasureVerifyMs(options.BcryptCost);
            var loginRun = Run("login", async (w, ct) => await LogInAsync(w, ct));
            DiscoveryDuringLogins = await SideProbe.WhileAsync(server.BaseAddress, "/.well-known/openid-configuration", loginRun);
            var logins = await loginRun;
            BcryptVerifyMsAroundLogin = (before + BcryptCeiling.MeasureVerifyMs(options.BcryptCost)) / 2;
            yield return logins;
        }

        Task<FlowResult> Run(string flow, LoadRunner.Operation operation) =>
            LoadRunner.RunAsync(flow, server, n, options.Warmup, options.Duration, operation);
    }

    public Task<JsonElement> ClientCredentialsAsync(string clientId, string secret, CancellationToken cancellationToken) =>
        http.PostFormAsync(token, Form(("grant_type", "client_credentials"), ("scope", Scope)), Http.Basic(clientId, secret), cancellationToken);

    /// <summary>
    /// A person at a fresh browser: GET authorize, sent to the login page, post it with its anti-forgery token and
    /// cookies, back to authorize, redirected to the client with a code; then the client redeems the code (PKCE).
    /// </summary>
    public async Task<JsonElement> LogInAsync(int worker, CancellationToken cancellationToken)
    {
        var cookies = new Dictionary<string, string>(StringComparer.Ordinal);
        var verifier = NewSecret();
        var challenge = WebEncoders.Base64UrlEncode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var authorize = QueryHelpers.AddQueryString("/connect/authorize", new Dictionary<string, string?>
        {
            ["client_id"] = "bench-web",
            ["response_type"] = "code",
            ["redirect_uri"] = RedirectUri,
            ["scope"] = $"openid profile email offline_access {Scope}",
            ["state"] = "bench-state",
            ["nonce"] = "bench-nonce",
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
        });

        var (loginUri, page) = await FollowToPageAsync(new Uri(server.BaseAddress, authorize), cookies, cancellationToken);
        var fields = new List<KeyValuePair<string, string>>
        {
            new("ReturnUrl", HiddenInput(page, "ReturnUrl")),
            new("__RequestVerificationToken", HiddenInput(page, "__RequestVerificationToken")),
            new("Username", userNames[worker]),
            new("Password", userPasswords[worker]),
        };
        using var post = new HttpRequestMessage(HttpMethod.Post, loginUri) { Content = new FormUrlEncodedContent(fields) };
        AddCookies(post, cookies);
        using var posted = await http.SendAsync(post, cancellationToken);
        KeepCookies(posted, cookies);
        if (posted.StatusCode != HttpStatusCode.Redirect || posted.Headers.Location is null)
        {
            throw new BenchmarkException($"login post: {(int)posted.StatusCode}, expected a redirect back to authorize");
        }

        var callback = await FollowToClientAsync(new Uri(loginUri, posted.Headers.Location), cookies, cancellationToken);
        var code = QueryHelpers.ParseQuery(callback.Query).TryGetValue("code", out var value) && value.Count > 0
            ? value[0]!
            : throw new BenchmarkException($"no code in {Http.Truncate(callback.ToString())}");
        return await http.PostFormAsync(token, Form(("grant_type", "authorization_code"), ("code", code), ("redirect_uri", RedirectUri), ("code_verifier", verifier)),
            Http.Basic("bench-web", webSecret), cancellationToken);
    }

    private async Task<(Uri Uri, string Html)> FollowToPageAsync(Uri uri, Dictionary<string, string> cookies, CancellationToken cancellationToken)
    {
        for (var hops = 0; hops < 5; hops++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            AddCookies(request, cookies);
            using var response = await http.SendAsync(request, cancellationToken);
            KeepCookies(response, cookies);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return (uri, await response.Content.ReadAsStringAsync(cancellationToken));
            }

            if (response.Headers.Location is null)
            {
                throw new BenchmarkException($"GET {uri.AbsolutePath}: {(int)response.StatusCode}");
            }

            uri = new Uri(uri, response.Headers.Location);
        }

        throw new BenchmarkException("too many redirects before the login page");
    }

    private async Task<Uri> FollowToClientAsync(Uri uri, Dictionary<string, string> cookies, CancellationToken cancellationToken)
    {
        for (var hops = 0; hops < 5; hops++)
        {
            if (uri.ToString().StartsWith(RedirectUri, StringComparison.Ordinal))
            {
                return uri;
            }

            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            AddCookies(request, cookies);
            using var response = await http.SendAsync(request, cancellationToken);
            KeepCookies(response, cookies);
            if (response.Headers.Location is null)
            {
                throw new BenchmarkException($"GET {uri.AbsolutePath}: {(int)response.StatusCode}, expected a redirect to the client");
            }

            uri = new Uri(uri, response.Headers.Location);
        }

        throw new BenchmarkException("too many redirects after the login");
    }

    private static void AddCookies(HttpRequestMessage request, Dictionary<string, string> cookies)
    {
        if (cookies.Count > 0)
        {
            request.Headers.Add("Cookie", string.Join("; ", cookies.Select(c => c.Key + "=" + c.Value)));
        }
    }

    private static void KeepCookies(HttpResponseMessage response, Dictionary<string, string> cookies)
    {
        if (!response.Headers.TryGetValues("Set-Cookie", out var values))
        {
            return;
        }

        foreach (var header in values)
        {
            var pair = header.Split(';', 2)[0];
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;
            }

            var (name, value) = (pair[..equals].Trim(), pair[(equals + 1)..].Trim());
            if (value.Length == 0 || header.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase))
            {
                cookies.Remove(name);
            }
            else
            {
                cookies[name] = value;
            }
        }
    }

    private static string HiddenInput(string html, string name)
    {
        foreach (Match input in InputTag().Matches(html))
        {
            var tag = input.Value;
            if (tag.Contains($"name=\"{name}\"", StringComparison.Ordinal))
            {
                var value = ValueAttribute().Match(tag);
                return value.Success ? WebUtility.HtmlDecode(value.Groups[1].Value) : "";
            }
        }

        throw new BenchmarkException($"the login page has no input '{name}'");
    }

    [GeneratedRegex("<input\\b[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex InputTag();

    [GeneratedRegex("\\bvalue=\"([^\"]*)\"")]
    private static partial Regex ValueAttribute();

    private static KeyValuePair<string, string>[] Form(params (string Key, string Value)[] fields) =>
        [.. fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value))];

    public ValueTask DisposeAsync() => server.DisposeAsync();
}
