using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Web;
using AngleSharp;
using AngleSharp.Html.Dom;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.ScaleOut.Tests.Infrastructure;

public sealed record CodeClient(string ClientId, string Secret, string RedirectUri);

/// <summary>What relying parties and an admin do over HTTP, against whichever instance (or nginx) a call names.</summary>
public sealed class Clients(Cluster cluster) : IDisposable
{
    public HttpClient Http { get; } = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(60) };

    public async Task<(HttpStatusCode Status, JsonElement Body)> TokenAsync(Uri server, IDictionary<string, string> form, string clientId, string secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "connect/token")) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(clientId)}:{Uri.EscapeDataString(secret)}")));
        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await ReadJsonAsync(response));
    }

    public Task<(HttpStatusCode Status, JsonElement Body)> ClientCredentialsAsync(Uri server) =>
        TokenAsync(server, new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin" },
            Cluster.AdminClientId, Cluster.AdminClientSecret);

    public Task<(HttpStatusCode Status, JsonElement Body)> RefreshAsync(Uri server, CodeClient client, string refreshToken) =>
        TokenAsync(server, new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken },
            client.ClientId, client.Secret);

    public async Task<JsonElement> AdminAsync(Uri server, string path, object body)
    {
        var (status, json) = await AdminAsync(server, HttpMethod.Post, path, body);
        Assert.True(status == HttpStatusCode.Created, $"POST {path}: {(int)status} {json}");
        return json;
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> AdminAsync(Uri server, HttpMethod method, string path, object? body = null)
    {
        var (status, token) = await ClientCredentialsAsync(server);
        Assert.True(status == HttpStatusCode.OK, $"admin token: {status} {token}");
        using var request = new HttpRequestMessage(method, new Uri(server, path)) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.GetProperty("access_token").GetString());
        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await ReadJsonAsync(response));
    }

    public async Task<CodeClient> RegisterCodeClientAsync(string clientId)
    {
        var redirectUri = $"http://127.0.0.1:7000/{clientId}/callback";
        var created = await AdminAsync(cluster.Public, "admin/clients", new
        {
            clientId,
            clientType = "confidential",
            redirectUris = new[] { redirectUri },
            grantTypes = new[] { "authorization_code", "refresh_token" },
            scopes = new[] { "openid", "profile", "offline_access" },
            consentType = "implicit",
        });
        return new CodeClient(clientId, created.GetProperty("clientSecret").GetString()!, redirectUri);
    }

    public Task RegisterUserAsync(string username, string password) =>
        AdminAsync(cluster.Public, "admin/users", new { username, email = $"{username}@example.test", password, roles = Array.Empty<string>() });

    /// <summary>
    /// The authorization code flow as a browser without JavaScript goes through it, each request sent to the next
    /// server of <paramref name="servers"/> in turn, so page, form post, cookie and code cross instances.
    /// Returns the token response.
    /// </summary>
    public async Task<JsonElement> LogInAsync(CodeClient client, string username, string password, params Uri[] servers)
    {
        var turn = 0;
        Uri Next() => servers[turn++ % servers.Length];
        var cookies = new CookieJar();
        var pkce = Pkce.Create();
        var authorize = "connect/authorize?" + string.Join("&", new Dictionary<string, string>
        {
            ["client_id"] = client.ClientId,
            ["response_type"] = "code",
            ["redirect_uri"] = client.RedirectUri,
            ["scope"] = "openid profile offline_access",
            ["state"] = "s-1",
            ["nonce"] = "n-1",
            ["code_challenge"] = pkce.Challenge,
            ["code_challenge_method"] = "S256",
        }.Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value)}"));

        // Authorize → login page.
        using var toLogin = await cookies.SendAsync(Http, new HttpRequestMessage(HttpMethod.Get, new Uri(Next(), authorize)));
        Assert.True(toLogin.StatusCode == HttpStatusCode.Redirect, $"authorize: {(int)toLogin.StatusCode}");
        var loginPath = toLogin.Headers.Location!.IsAbsoluteUri ? toLogin.Headers.Location.PathAndQuery : toLogin.Headers.Location.OriginalString;
        using var loginPage = await cookies.SendAsync(Http, new HttpRequestMessage(HttpMethod.Get, new Uri(Next(), loginPath)));
        Assert.Equal(HttpStatusCode.OK, loginPage.StatusCode);

        // The form, anti-forgery token included, posted to another instance than the one that rendered it.
        var document = await BrowsingContext.New(Configuration.Default)
            .OpenAsync(request => request.Content(loginPage.Content.ReadAsStream()).Address(loginPage.RequestMessage!.RequestUri!.ToString()));
        var button = (IHtmlButtonElement)document.GetElementById("login")!;
        ((IHtmlInputElement)document.GetElementById("username")!).Value = username;
        ((IHtmlInputElement)document.GetElementById("password")!).Value = password;
        var fields = button.Form!.Elements.OfType<IHtmlInputElement>().Where(i => !string.IsNullOrEmpty(i.Name))
            .Select(i => new KeyValuePair<string, string>(i.Name!, i.Value)).ToList();
        // A relative action is resolved against the page's address, as a browser does.
        var action = new Uri(loginPage.RequestMessage!.RequestUri!, button.Form.Action);
        using var posted = await cookies.SendAsync(Http, new HttpRequestMessage(HttpMethod.Post, new Uri(Next(), action.PathAndQuery))
        {
            Content = new FormUrlEncodedContent(fields),
        });
        Assert.True(posted.StatusCode == HttpStatusCode.Redirect,
            $"login post: {(int)posted.StatusCode} {await posted.Content.ReadAsStringAsync()}");

        // Back to authorize with the session cookie another instance issued → the client's redirect URI.
        var back = posted.Headers.Location!;
        using var toClient = await cookies.SendAsync(Http, new HttpRequestMessage(HttpMethod.Get, new Uri(Next(), back.IsAbsoluteUri ? back.PathAndQuery : back.OriginalString)));
        Assert.True(toClient.StatusCode == HttpStatusCode.Redirect, $"authorize after login: {(int)toClient.StatusCode}");
        Assert.StartsWith(client.RedirectUri, toClient.Headers.Location!.ToString(), StringComparison.Ordinal);
        var callback = HttpUtility.ParseQueryString(toClient.Headers.Location.Query);
        Assert.Equal("s-1", callback["state"]);

        var (status, body) = await TokenAsync(Next(), new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = callback["code"]!,
            ["redirect_uri"] = client.RedirectUri,
            ["code_verifier"] = pkce.Verifier,
        }, client.ClientId, client.Secret);
        Assert.True(status == HttpStatusCode.OK, $"code redemption: {status} {body}");
        return body;
    }

    /// <summary>
    /// A user approving a device on the verification page, each request sent to the next server of
    /// <paramref name="servers"/> in turn: the code's page, the login page, its form post, the confirmation, Allow.
    /// </summary>
    public async Task ApproveDeviceAsync(string verificationUriComplete, string username, string password, params Uri[] servers)
    {
        var turn = 0;
        Uri Next() => servers[turn++ % servers.Length];
        var cookies = new CookieJar();

        using var toLogin = await cookies.SendAsync(Http, new HttpRequestMessage(HttpMethod.Get, new Uri(Next(), new Uri(verificationUriComplete).PathAndQuery)));
        Assert.True(toLogin.StatusCode == HttpStatusCode.Redirect, $"verify: {(int)toLogin.StatusCode}");
        using var loginPage = await cookies.SendAsync(Http, new HttpRequestMessage(HttpMethod.Get, new Uri(Next(), toLogin.Headers.Location!.OriginalString)));
        using var posted = await PostFormAsync(cookies, loginPage, "login", Next(), new() { ["username"] = username, ["password"] = password });
        Assert.True(posted.StatusCode == HttpStatusCode.Redirect, $"login post: {(int)posted.StatusCode}");

        using var confirmation = await cookies.SendAsync(Http, new HttpRequestMessage(HttpMethod.Get, new Uri(Next(), posted.Headers.Location!.OriginalString)));
        using var allowed = await PostFormAsync(cookies, confirmation, "accept", Next(), []);
        Assert.True(allowed.StatusCode == HttpStatusCode.Redirect && allowed.Headers.Location!.OriginalString.EndsWith("outcome=approved", StringComparison.Ordinal),
            $"allow: {(int)allowed.StatusCode} {allowed.Headers.Location} {await allowed.Content.ReadAsStringAsync()}");
    }

    /// <summary>Fills a page's form (anti-forgery token included) and clicks its button, at another server than rendered it.</summary>
    private async Task<HttpResponseMessage> PostFormAsync(CookieJar cookies, HttpResponseMessage page, string buttonId, Uri server, Dictionary<string, string> fieldsById)
    {
        var document = await BrowsingContext.New(Configuration.Default)
            .OpenAsync(request => request.Content(page.Content.ReadAsStream()).Address(page.RequestMessage!.RequestUri!.ToString()));
        var button = document.GetElementById(buttonId) as IHtmlButtonElement
            ?? throw new InvalidOperationException($"No button#{buttonId} on {page.RequestMessage!.RequestUri}: {document.Body?.TextContent}");
        foreach (var (id, value) in fieldsById)
        {
            ((IHtmlInputElement)document.GetElementById(id)!).Value = value;
        }

        var fields = button.Form!.Elements.OfType<IHtmlInputElement>().Where(i => !string.IsNullOrEmpty(i.Name))
            .Select(i => new KeyValuePair<string, string>(i.Name!, i.Value)).ToList();
        if (!string.IsNullOrEmpty(button.Name))
        {
            fields.Add(new(button.Name, button.Value));
        }

        var action = new Uri(page.RequestMessage!.RequestUri!, button.Form.Action);
        return await cookies.SendAsync(Http, new HttpRequestMessage(HttpMethod.Post, new Uri(server, action.PathAndQuery))
        {
            Content = new FormUrlEncodedContent(fields),
        });
    }

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        try
        {
            return string.IsNullOrWhiteSpace(text) ? default : JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonDocument.Parse(JsonSerializer.Serialize(new { raw = text })).RootElement.Clone();
        }
    }

    public void Dispose() => Http.Dispose();

    /// <summary>
    /// Cookies by name for the one host (127.0.0.1) all instances share, whatever the port: as a browser does
    /// (cookies ignore ports), and as happens behind a load balancer that owns one origin.
    /// </summary>
    private sealed class CookieJar
    {
        private readonly Dictionary<string, string> cookies = new(StringComparer.Ordinal);

        public async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request)
        {
            if (cookies.Count > 0)
            {
                request.Headers.Add("Cookie", string.Join("; ", cookies.Select(c => $"{c.Key}={c.Value}")));
            }

            var response = await http.SendAsync(request);
            foreach (var header in response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [])
            {
                var pair = header.Split(';', 2)[0];
                var separator = pair.IndexOf('=', StringComparison.Ordinal);
                var (name, value) = (pair[..separator].Trim(), pair[(separator + 1)..].Trim());
                if (value.Length == 0 || header.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase))
                {
                    cookies.Remove(name);
                }
                else
                {
                    cookies[name] = value;
                }
            }

            return response;
        }
    }
}
