using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using IdentityServer.Admin;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Admin;

/// <summary>An admin's raw HTTP view of the admin API: status, content type, headers and body text, as a client sees them.</summary>
public sealed record AdminResponse(HttpStatusCode Status, string? MediaType, HttpResponseHeaders Headers, HttpContentHeaders ContentHeaders, string Text)
{
    public JsonElement Json => string.IsNullOrWhiteSpace(Text) ? default : JsonDocument.Parse(Text).RootElement.Clone();
}

/// <summary>Admin calls that <see cref="TokenClient"/> does not offer: raw bodies, chosen tokens, problem-detail checks, audit rows.</summary>
public sealed class AdminApi(IdentityServerFactory factory)
{
    public TokenClient Tokens { get; } = new(factory);

    /// <summary>A fresh token from the bootstrap admin client, so moving the fake clock never leaves a stale one.</summary>
    public Task<string> AdminTokenAsync() => Tokens.AdminTokenAsync();

    public Task<AdminResponse> SendAsync(HttpMethod method, string path, object? body = null, string? token = null) =>
        SendRawAsync(method, path, body is null ? null : JsonSerializer.Serialize(body, JsonSerializerOptions.Web), token);

    /// <summary>
    /// Sends exactly <paramref name="json"/> as an application/json body (or as <paramref name="contentType"/>); a null
    /// token means the bootstrap admin's token, "" means none.
    /// </summary>
    public async Task<AdminResponse> SendRawAsync(HttpMethod method, string path, string? json, string? token = null, string? contentType = null)
    {
        using var request = new HttpRequestMessage(method, path);
        token ??= await AdminTokenAsync();
        if (token.Length > 0)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            if (contentType is not null)
            {
                request.Content.Headers.Remove("Content-Type");
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        using var response = await Tokens.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new AdminResponse(response.StatusCode, response.Content.Headers.ContentType?.MediaType, response.Headers, response.Content.Headers, text);
    }

    public Task<AdminResponse> PostAsync(string path, object body, string? token = null) => SendAsync(HttpMethod.Post, path, body, token);

    public Task<AdminResponse> PutAsync(string path, object body, string? token = null) => SendAsync(HttpMethod.Put, path, body, token);

    public Task<AdminResponse> GetAsync(string path, string? token = null) => SendAsync(HttpMethod.Get, path, null, token);

    public Task<AdminResponse> DeleteAsync(string path, string? token = null) => SendAsync(HttpMethod.Delete, path, null, token);

    /// <summary>A problem-details response (RFC 9457) with the expected status.</summary>
    public static JsonElement AssertProblem(AdminResponse response, HttpStatusCode status)
    {
        Assert.True(response.Status == status, $"expected {(int)status}, got {(int)response.Status}: {response.Text}");
        Assert.Equal("application/problem+json", response.MediaType);
        var body = response.Json;
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        return body;
    }

    /// <summary>A 400 whose <c>errors</c> object has the given camelCase field among its keys; returns that field's messages.</summary>
    public static string[] AssertFieldError(AdminResponse response, string field)
    {
        var body = AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.True(body.TryGetProperty("errors", out var errors), $"no errors object: {response.Text}");
        Assert.True(errors.TryGetProperty(field, out var messages), $"no error keyed '{field}': {response.Text}");
        var list = messages.EnumerateArray().Select(m => m.GetString()!).ToArray();
        Assert.NotEmpty(list);
        Assert.All(list, m => Assert.False(string.IsNullOrWhiteSpace(m)));
        return list;
    }

    public static string[] ErrorKeys(AdminResponse response) =>
        response.Json.TryGetProperty("errors", out var errors) ? [.. errors.EnumerateObject().Select(p => p.Name)] : [];

    public static void AssertStatus(AdminResponse response, HttpStatusCode status) =>
        Assert.True(response.Status == status, $"expected {(int)status}, got {(int)response.Status}: {response.Text}");

    /// <summary>The audit rows for one target, oldest first, read straight from the database.</summary>
    public async Task<List<AuditEvent>> AuditAsync(string target)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
        var rows = await db.AuditEvents.AsNoTracking().Where(a => a.Target == target).ToListAsync();
        return [.. rows.OrderBy(a => a.Id)];
    }

    /// <summary>Whether a token is still active, asked by a resource server that is one of its audiences.</summary>
    public async Task<bool> IsActiveAsync(string token, string resourceClientId, string resourceSecret)
    {
        var body = await Tokens.IntrospectAsync(token, resourceClientId, resourceSecret);
        return body.GetProperty("active").GetBoolean();
    }

    /// <summary>
    /// A scope whose single resource is also a confidential client, so that client may introspect the tokens that
    /// carry the scope (OpenIddict lets only an audience or the presenter introspect an access token).
    /// </summary>
    public async Task<(string Scope, string ResourceClientId, string ResourceSecret)> ResourceServerAsync(string id)
    {
        var scope = $"api-{id}";
        var resource = $"rs-{id}";
        await Tokens.RegisterScopeAsync(scope, resource);
        var secret = await Tokens.RegisterClientAsync(new { clientId = resource, clientType = "confidential", grantTypes = new[] { "client_credentials" } });
        return (scope, resource, secret!);
    }

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";
}
