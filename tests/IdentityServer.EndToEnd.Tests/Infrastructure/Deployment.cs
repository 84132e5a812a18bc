using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;

namespace IdentityServer.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The whole system as people use it: IdentityServer (its own SQLite file, the bootstrap admin client), the
/// Orders API (ResourceApi) and Northwind Coffee (ClientApp), each a real process on a free 127.0.0.1 port, with
/// the client and the API scope registered through the admin API; plus Debian's Chromium driven by Playwright.
/// A second ClientApp instance treats every access token as about to expire, to exercise the refresh path.
/// </summary>
public class Deployment : IAsyncLifetime
{
    public const string AdminClientId = "admin-cli";
    public const string AdminClientSecret = "e2e-admin-client-secret-0123456789";
    public const string ClientId = "northwind-coffee";
    public const string ClientDisplayName = "Northwind Coffee";
    public const string ApiScope = "api1";
    public const string ApiScopeDisplayName = "Read your coffee orders";
    public const string ApiResource = "api1-resource";
    public const string WorkerClientId = "orders-worker";

    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(90);

    private readonly string databasePath = Path.Combine(Path.GetTempPath(), "identityserver-e2e", $"ids-{Guid.NewGuid():N}.db");
    private readonly List<HostProcess> processes = [];
    private IPlaywright? playwright;

    public HostProcess IdentityServer { get; private set; } = null!;

    public HostProcess ResourceApi { get; private set; } = null!;

    public HostProcess ClientApp { get; private set; } = null!;

    /// <summary>The same app, configured to refresh the access token before every API call.</summary>
    public HostProcess RenewingClientApp { get; private set; } = null!;

    public string WorkerClientSecret { get; private set; } = string.Empty;

    public IBrowser Browser { get; private set; } = null!;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public static string ScreenshotDirectory { get; } =
        Environment.GetEnvironmentVariable("E2E_SCREENSHOTS") is { Length: > 0 } configured
            ? configured
            : Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");

    /// <summary>The issuer's path (<c>/id</c>), or empty when the issuer is the server's origin.</summary>
    protected virtual string IssuerPath => string.Empty;

    public async Task InitializeAsync()
    {
        try
        {
            await StartAsync();
        }
        catch
        {
            // xunit does not dispose a fixture whose start failed: leave no process behind.
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(databasePath)!);
        Directory.CreateDirectory(ScreenshotDirectory);
        var clientAppPort = HostProcess.FreePort();
        var renewingClientAppPort = HostProcess.FreePort();
        var resourceApiPort = HostProcess.FreePort();

        // Chromium starts while the server does.
        var browserStarting = LaunchBrowserAsync();

        var identityServerPort = HostProcess.FreePort();
        var identityServerSettings = new Dictionary<string, string>
        {
            ["Database__Provider"] = "Sqlite",
            ["ConnectionStrings__IdentityServer"] = "Data Source=" + databasePath,
            ["Bootstrap__AdminClientId"] = AdminClientId,
            ["Bootstrap__AdminClientSecret"] = AdminClientSecret,
            ["Passwords__BcryptWorkFactor"] = "4",
            ["RateLimits__PagePostsPerIp"] = "100000",
            ["RateLimits__ProtocolRequestsPerIp"] = "1000000",
            ["RateLimits__ProtocolRequestsPerClient"] = "1000000",
        };
        if (IssuerPath.Length > 0)
        {
            identityServerSettings["IdentityServer__Issuer"] = $"http://127.0.0.1:{identityServerPort}{IssuerPath}";
        }

        IdentityServer = Track(HostProcess.Start("src/IdentityServer", identityServerPort, identityServerSettings));
        await IdentityServer.WaitUntilHealthyAsync("/health/ready", StartupTimeout);

        var authority = Authority;
        await RegisterAsync(
            "/admin/scopes",
            new { name = ApiScope, displayName = ApiScopeDisplayName, resources = new[] { ApiResource } });
        // Same audience as the Orders API, but not the scope it asks for: tokens for it get 403 there.
        await RegisterAsync("/admin/scopes", new { name = "api1.audit", displayName = "Audit coffee orders", resources = new[] { ApiResource } });
        // Another API altogether: its tokens carry another audience.
        await RegisterAsync("/admin/scopes", new { name = "api2", displayName = "Billing", resources = new[] { "api2-resource" } });

        var clientSecret = await RegisterAsync("/admin/clients", new
        {
            clientId = ClientId,
            displayName = ClientDisplayName,
            clientType = "confidential",
            redirectUris = new[] { $"http://127.0.0.1:{clientAppPort}/signin-oidc", $"http://127.0.0.1:{renewingClientAppPort}/signin-oidc" },
            postLogoutRedirectUris = new[] { $"http://127.0.0.1:{clientAppPort}/signout-callback-oidc", $"http://127.0.0.1:{renewingClientAppPort}/signout-callback-oidc" },
            grantTypes = new[] { "authorization_code", "refresh_token" },
            scopes = new[] { "openid", "profile", "email", "offline_access", ApiScope },
            consentType = "explicit",
            // One address per client: the first instance hears of every session of the client that ends.
            backChannelLogoutUri = $"http://127.0.0.1:{clientAppPort}/backchannel-logout",
        });
        WorkerClientSecret = await RegisterAsync("/admin/clients", new
        {
            clientId = WorkerClientId,
            displayName = "Orders worker",
            clientType = "confidential",
            grantTypes = new[] { "client_credentials" },
            scopes = new[] { ApiScope, "api1.audit", "api2" },
        });

        ResourceApi = Track(HostProcess.Start("src/Samples/ResourceApi", resourceApiPort, new Dictionary<string, string>
        {
            ["IdentityServer__Authority"] = authority,
            ["IdentityServer__Audience"] = ApiResource,
            ["IdentityServer__Scope"] = ApiScope,
        }));

        Dictionary<string, string> ClientAppSettings(string refreshBeforeExpiry) => new()
        {
            ["IdentityServer__Authority"] = authority,
            ["IdentityServer__ClientId"] = ClientId,
            ["IdentityServer__ClientSecret"] = clientSecret,
            ["IdentityServer__RefreshBeforeExpiry"] = refreshBeforeExpiry,
            ["ResourceApi__BaseUrl"] = ResourceApi.BaseAddress.ToString(),
        };
        ClientApp = Track(HostProcess.Start("src/Samples/ClientApp", clientAppPort, ClientAppSettings("00:01:00")));
        RenewingClientApp = Track(HostProcess.Start("src/Samples/ClientApp", renewingClientAppPort, ClientAppSettings("1.00:00:00")));

        await Task.WhenAll(
            ResourceApi.WaitUntilHealthyAsync("/health", StartupTimeout),
            ClientApp.WaitUntilHealthyAsync("/health", StartupTimeout),
            RenewingClientApp.WaitUntilHealthyAsync("/health", StartupTimeout));
        Browser = await browserStarting;
    }

    /// <summary>The issuer, as the apps are configured with it: the server's own origin, and its path if it has one.</summary>
    public string Authority => IdentityServer.BaseAddress.ToString().TrimEnd('/') + IssuerPath;

    /// <summary>An address on the server, under the issuer's path.</summary>
    public Uri ServerUri(string path) => new(Authority + path);

    /// <summary>A fresh browser profile: no cookies, as a person on a new device.</summary>
    public async Task<IBrowserContext> NewBrowserContextAsync()
    {
        var context = await Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1100, Height = 900 } });
        context.SetDefaultTimeout(15_000);
        return context;
    }

    public async Task<string> AdminTokenAsync() =>
        await ClientCredentialsTokenAsync(ServerUri("/"), AdminClientId, AdminClientSecret, "admin");

    public async Task<string> ClientCredentialsTokenAsync(Uri server, string clientId, string clientSecret, string scope)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "connect/token"))
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = scope }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(clientId)}:{Uri.EscapeDataString(clientSecret)}")));
        using var response = await Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"client_credentials for {clientId} failed: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>Creates a user through the admin API, as an admin would.</summary>
    public async Task CreateUserAsync(string username, string password)
    {
        await RegisterAsync("/admin/users", new { username, email = $"{username}@example.test", password, roles = Array.Empty<string>(), enabled = true });
    }

    /// <summary>Registers a client through the admin API; returns its generated secret, if any.</summary>
    public Task<string> CreateClientAsync(object client) => RegisterAsync("/admin/clients", client);

    /// <summary>POSTs to the admin API; returns the generated client secret when there is one.</summary>
    private async Task<string> RegisterAsync(string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, ServerUri(path)) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await AdminTokenAsync());
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST {path} failed: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.TryGetProperty("clientSecret", out var secret) ? secret.GetString()! : string.Empty;
    }

    /// <summary>POSTs to the admin API an action without a body (a user's logout); expects 204.</summary>
    public async Task AdminPostAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, ServerUri(path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await AdminTokenAsync());
        using var response = await Http.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"POST {path} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private async Task<IBrowser> LaunchBrowserAsync()
    {
        playwright = await Playwright.CreateAsync();
        return await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    private HostProcess Track(HostProcess process)
    {
        processes.Add(process);
        return process;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
            Browser = null!;
        }

        playwright?.Dispose();
        playwright = null;
        foreach (var process in processes)
        {
            await process.DisposeAsync();
        }

        processes.Clear();
        Http.Dispose();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(databasePath + suffix);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class DeploymentCollection : ICollectionFixture<Deployment>
{
    public const string Name = "deployment";
}

/// <summary>The same system with the issuer under a path (<c>http://127.0.0.1:PORT/id</c>), as Keycloak's realms are.</summary>
public sealed class DeploymentUnderAPath : Deployment
{
    protected override string IssuerPath => "/id";
}

[CollectionDefinition(Name)]
public sealed class DeploymentUnderAPathCollection : ICollectionFixture<DeploymentUnderAPath>
{
    public const string Name = "deployment under a path";
}
