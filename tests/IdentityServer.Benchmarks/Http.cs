using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace IdentityServer.Benchmarks;

/// <summary>Request helpers over one shared <see cref="HttpClient"/>: no automatic redirects, no automatic cookies.</summary>
internal static class Http
{
    public static HttpClient CreateClient(int connections) =>
        new(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseProxy = false,
        })
        {
            Timeout = TimeSpan.FromSeconds(60),
        };

    public static AuthenticationHeaderValue Basic(string clientId, string secret) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(
            Uri.EscapeDataString(clientId) + ":" + Uri.EscapeDataString(secret))));

    /// <summary>POSTs a form; returns the JSON body of a 200, throws <see cref="BenchmarkException"/> otherwise.</summary>
    public static async Task<JsonElement> PostFormAsync(this HttpClient http, Uri uri, IEnumerable<KeyValuePair<string, string>> form,
        AuthenticationHeaderValue? authorization, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = authorization;
        using var response = await http.SendAsync(request, cancellationToken);
        return await JsonOkAsync(response, cancellationToken);
    }

    /// <summary>
    /// The "discovery" flow, the same for every server: each worker alternates the discovery document and the
    /// JWKS it names, as a relying party or resource API does when it (re)loads metadata.
    /// </summary>
    public static async Task<LoadRunner.Operation> DiscoveryOperationAsync(this HttpClient http, Uri baseAddress, int connections)
    {
        var discovery = new Uri(baseAddress, "/.well-known/openid-configuration");
        var jwks = new Uri((await http.GetJsonAsync(discovery, null, default)).String("jwks_uri"));
        var flip = new int[connections];
        return (worker, cancellationToken) => http.GetJsonAsync(flip[worker]++ % 2 == 0 ? discovery : jwks, null, cancellationToken);
    }

    public static async Task<JsonElement> GetJsonAsync(this HttpClient http, Uri uri, AuthenticationHeaderValue? authorization, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Authorization = authorization;
        using var response = await http.SendAsync(request, cancellationToken);
        return await JsonOkAsync(response, cancellationToken);
    }

    public static async Task<JsonElement> PostJsonAsync(this HttpClient http, Uri uri, object body, string bearer, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new BenchmarkException($"POST {uri.AbsolutePath}: {(int)response.StatusCode} {text}");
        }

        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<JsonElement> JsonOkAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new BenchmarkException($"{response.RequestMessage?.RequestUri?.AbsolutePath}: {(int)response.StatusCode} {Truncate(text)}");
        }

        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "...";

    public static string String(this JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.GetString() is { } text
            ? text
            : throw new BenchmarkException($"The response has no '{property}': {Truncate(element.ToString())}");
}
