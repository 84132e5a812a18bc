using System.Net;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;

namespace IdentityServer.Tests.Infrastructure;

/// <summary>Small steps the protocol tests repeat: admin changes to a user, reading tokens, asserting OAuth errors.</summary>
public static class ProtocolHelpers
{
    public static string Token(this JsonElement body, string name) =>
        body.TryGetProperty(name, out var value) ? value.GetString()! : throw new InvalidOperationException($"No {name} in {body}");

    public static string? OptionalToken(this JsonElement body, string name) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) ? value.GetString() : null;

    public static string? Error(this JsonElement body) => body.OptionalToken("error");

    /// <summary>A GET with an empty body and a form Content-Type, as some HTTP clients send by default.</summary>
    public static HttpRequestMessage FormTypedGet(string url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url) { Content = new ByteArrayContent([]) };
        request.Content.Headers.ContentType = new("application/x-www-form-urlencoded");
        return request;
    }

    /// <summary>Reads a JWT's claims without validating it (the test already knows where it came from).</summary>
    public static JsonWebToken Read(string jwt) => new(jwt);

    public static async Task DisableUserAsync(this TokenClient tokens, string userId, string username)
    {
        var (status, body) = await tokens.AdminAsync(HttpMethod.Put, $"/admin/users/{userId}",
            new { username, email = $"{username}@example.test", enabled = false, roles = Array.Empty<string>() });
        Assert.True(status == HttpStatusCode.OK, $"disabling the user failed: {status} {body}");
    }

    public static async Task DeleteUserAsync(this TokenClient tokens, string userId)
    {
        var (status, body) = await tokens.AdminAsync(HttpMethod.Delete, $"/admin/users/{userId}");
        Assert.True(status == HttpStatusCode.NoContent, $"deleting the user failed: {status} {body}");
    }

    public static async Task ResetPasswordAsync(this TokenClient tokens, string userId, string password)
    {
        var (status, body) = await tokens.AdminAsync(HttpMethod.Post, $"/admin/users/{userId}/password", new { password });
        Assert.True(status == HttpStatusCode.NoContent, $"resetting the password failed: {status} {body}");
    }

    public static void AssertOAuthError((HttpStatusCode Status, JsonElement Body) response, HttpStatusCode status, string error)
    {
        Assert.True(response.Status == status && response.Body.Error() == error,
            $"expected {(int)status} {error}, got {(int)response.Status} {response.Body}");
    }

    /// <summary>
    /// An authorization request refused after its client and redirect_uri were found good: the browser goes back to the
    /// client's redirect_uri with the error, the request's state and the issuer (RFC 6749 4.1.2.1, RFC 9207), never to
    /// the login page and never with a code. Parameters come in the query, or in the fragment for a token response type.
    /// </summary>
    public static async Task<Dictionary<string, string>> AssertSentBackToTheClientAsync(HttpResponseMessage response, TestClient client, string error)
    {
        var body = await response.Content.ReadAsStringAsync();
        var location = response.Headers.Location;
        Assert.True(location is not null && location.GetLeftPart(UriPartial.Path) == client.RedirectUri,
            $"expected a redirect to {client.RedirectUri}, got {(int)response.StatusCode} {location} {body}");
        var parameters = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(location!.Query.Length > 1 ? location.Query : "?" + location.Fragment.TrimStart('#'))
            .ToDictionary(p => p.Key, p => p.Value.ToString());
        Assert.True(parameters.GetValueOrDefault("error") == error, $"expected error={error} in {location}");
        Assert.Equal("xyz", parameters.GetValueOrDefault("state"));
        Assert.Equal("http://localhost", parameters.GetValueOrDefault("iss"));
        Assert.False(parameters.ContainsKey("code"), location.ToString());
        return parameters;
    }
}
