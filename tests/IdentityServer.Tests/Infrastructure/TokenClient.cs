using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IdentityServer.Tests.Infrastructure;

/// <summary>What a relying party or resource API does over HTTP: token requests, admin calls, JWT validation from JWKS.</summary>
public sealed class TokenClient(IdentityServerFactory factory)
{
    public HttpClient Http { get; } = factory.CreateClient(new() { AllowAutoRedirect = false });

    public async Task<(HttpStatusCode Status, JsonElement Body)> TokenAsync(
        IDictionary<string, string> form, string? clientId = null, string? clientSecret = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token") { Content = new FormUrlEncodedContent(form) };
        if (clientId is not null)
        {
            request.Headers.Authorization = Basic(clientId, clientSecret ?? string.Empty);
        }

        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await ReadJsonAsync(response));
    }

    public async Task<string> ClientCredentialsTokenAsync(string clientId, string clientSecret, string scope)
    {
        var (status, body) = await TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = scope }, clientId, clientSecret);
        Assert.True(status == HttpStatusCode.OK, $"client_credentials failed: {status} {body}");
        return body.GetProperty("access_token").GetString()!;
    }

    public Task<string> AdminTokenAsync() =>
        ClientCredentialsTokenAsync(IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret, "admin");

    public async Task<(HttpStatusCode Status, JsonElement Body)> AdminAsync(HttpMethod method, string path, object? body = null, string? token = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? await AdminTokenAsync());
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await ReadJsonAsync(response));
    }

    /// <summary>Registers a client through the admin API, as an admin would; returns its secret for confidential ones.</summary>
    public async Task<string?> RegisterClientAsync(object client)
    {
        var (status, body) = await AdminAsync(HttpMethod.Post, "/admin/clients", client);
        Assert.True(status == HttpStatusCode.Created, $"client registration failed: {status} {body}");
        return body.TryGetProperty("clientSecret", out var secret) ? secret.GetString() : null;
    }

    public async Task RegisterScopeAsync(string name, params string[] resources)
    {
        var (status, body) = await AdminAsync(HttpMethod.Post, "/admin/scopes", new { name, displayName = name, resources });
        Assert.True(status == HttpStatusCode.Created, $"scope registration failed: {status} {body}");
    }

    public async Task<string> RegisterUserAsync(string username, string password, string? email = null, params string[] roles)
    {
        var (status, body) = await AdminAsync(HttpMethod.Post, "/admin/users", new { username, email = email ?? $"{username}@example.test", password, roles });
        Assert.True(status == HttpStatusCode.Created, $"user registration failed: {status} {body}");
        return body.GetProperty("id").GetString()!;
    }

    /// <summary>Validates a JWT the way a resource API does: signature from the JWKS, issuer, audience, at+jwt type.</summary>
    public async Task<JsonWebToken> ValidateAccessTokenAsync(string token, string? audience = null)
    {
        var result = await ValidateAsync(token, audience, tokenType: "at+jwt");
        Assert.True(result.IsValid, $"access token invalid: {result.Exception}");
        return (JsonWebToken)result.SecurityToken;
    }

    public async Task<TokenValidationResult> ValidateAsync(string token, string? audience, string? tokenType)
    {
        using var jwksResponse = await Http.GetAsync("/.well-known/jwks");
        var jwks = new JsonWebKeySet(await jwksResponse.Content.ReadAsStringAsync());
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = "http://localhost",
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidateAudience = audience is not null,
            ValidAudience = audience,
            ValidTypes = tokenType is null ? null : [tokenType],
            // Server time is fake: judge expiry by it, not by the wall clock.
            LifetimeValidator = (notBefore, expires, _, _) => expires is null || expires > factory.Time.GetUtcNow().UtcDateTime,
        };
        return await new JsonWebTokenHandler().ValidateTokenAsync(token, parameters);
    }

    public async Task<JsonElement> IntrospectAsync(string token, string clientId, string clientSecret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/introspect")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token }),
        };
        request.Headers.Authorization = Basic(clientId, clientSecret);
        using var response = await Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ReadJsonAsync(response);
    }

    public static AuthenticationHeaderValue Basic(string clientId, string clientSecret) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(clientId)}:{Uri.EscapeDataString(clientSecret)}")));

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        if (string.IsNullOrWhiteSpace(text))
        {
            return default;
        }

        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonDocument.Parse(JsonSerializer.Serialize(new { raw = text })).RootElement.Clone();
        }
    }
}
