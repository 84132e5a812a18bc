using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;

namespace ClientApp;

/// <summary>An access token ready to send, and whether it had to be refreshed to get it.</summary>
public sealed record AccessTokenResult(string? AccessToken, DateTimeOffset? ExpiresAt, bool Refreshed, string? Error)
{
    public bool Succeeded => AccessToken is not null;
}

/// <summary>
/// Hands out the signed-in user's access token from the cookie (saved there by the OpenID Connect handler with
/// SaveTokens), and when it has expired or is about to, redeems the refresh token at the token endpoint named in
/// discovery. The server rotates refresh tokens, so the new pair is written back into the cookie at once.
/// </summary>
public sealed partial class AccessTokens(
    IHttpClientFactory httpClients,
    IOptionsMonitor<OpenIdConnectOptions> oidcOptions,
    IOptions<SignInOptions> signInOptions,
    TimeProvider time,
    ILogger<AccessTokens> logger)
{
    public const string HttpClientName = "token-endpoint";

    public async Task<AccessTokenResult> GetAsync(HttpContext context, bool forceRefresh = false)
    {
        var session = await context.AuthenticateAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        if (!session.Succeeded || session.Properties is null)
        {
            return new(null, null, false, "You are not signed in.");
        }

        var properties = session.Properties;
        var accessToken = properties.GetTokenValue("access_token");
        var expiresAt = DateTimeOffset.TryParse(properties.GetTokenValue("expires_at"), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var parsed)
            ? parsed
            : (DateTimeOffset?)null;

        var stillFresh = accessToken is not null && expiresAt is { } expiry && expiry - signInOptions.Value.RefreshBeforeExpiry > time.GetUtcNow();
        if (stillFresh && !forceRefresh)
        {
            return new(accessToken, expiresAt, false, null);
        }

        var refreshToken = properties.GetTokenValue("refresh_token");
        if (string.IsNullOrEmpty(refreshToken))
        {
            return new(null, expiresAt, false, "The access token expired and there is no refresh token; sign in again.");
        }

        var refreshed = await RefreshAsync(refreshToken, context.RequestAborted);
        if (refreshed.Error is not null)
        {
            return new(null, expiresAt, false, refreshed.Error);
        }

        // Write the new tokens back into the session cookie; the old refresh token is now spent.
        var tokens = properties.GetTokens().ToDictionary(token => token.Name, token => token.Value, StringComparer.Ordinal);
        tokens["access_token"] = refreshed.AccessToken!;
        tokens["expires_at"] = refreshed.ExpiresAt.ToString("o", CultureInfo.InvariantCulture);
        if (refreshed.RefreshToken is not null)
        {
            tokens["refresh_token"] = refreshed.RefreshToken;
        }

        if (refreshed.IdToken is not null)
        {
            tokens["id_token"] = refreshed.IdToken;
        }

        properties.StoreTokens(tokens.Select(token => new AuthenticationToken { Name = token.Key, Value = token.Value }));
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, session.Principal!, properties);
        LogRefreshed(logger, refreshed.ExpiresAt);
        return new(refreshed.AccessToken, refreshed.ExpiresAt, true, null);
    }

    private async Task<RefreshResult> RefreshAsync(string refreshToken, CancellationToken cancellationToken)
    {
        var oidc = oidcOptions.Get(OpenIdConnectDefaults.AuthenticationScheme);
        var discovery = await oidc.ConfigurationManager!.GetConfigurationAsync(cancellationToken);

        using var request = new HttpRequestMessage(HttpMethod.Post, discovery.TokenEndpoint)
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token",
                ["refresh_token"] = refreshToken,
            }),
        };
        // client_secret_basic: id and secret are form-urlencoded before base64 (RFC 6749 section 2.3.1).
        var credentials = $"{Uri.EscapeDataString(oidc.ClientId!)}:{Uri.EscapeDataString(oidc.ClientSecret ?? string.Empty)}";
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));

        using var response = await httpClients.CreateClient(HttpClientName).SendAsync(request, cancellationToken);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(cancellationToken));
        var json = body.RootElement;
        if (!response.IsSuccessStatusCode || !json.TryGetProperty("access_token", out var accessToken))
        {
            var error = json.TryGetProperty("error", out var code) ? code.GetString() : ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            LogRefreshFailed(logger, error);
            return new(null, null, null, default, $"The session could not be renewed ({error}); sign in again.");
        }

        var expiresIn = json.TryGetProperty("expires_in", out var seconds) ? seconds.GetInt32() : 300;
        return new(
            accessToken.GetString(),
            json.TryGetProperty("refresh_token", out var rotated) ? rotated.GetString() : null,
            json.TryGetProperty("id_token", out var idToken) ? idToken.GetString() : null,
            time.GetUtcNow().AddSeconds(expiresIn),
            null);
    }

    private sealed record RefreshResult(string? AccessToken, string? RefreshToken, string? IdToken, DateTimeOffset ExpiresAt, string? Error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Access token refreshed; it expires at {ExpiresAt}.")]
    private static partial void LogRefreshed(ILogger logger, DateTimeOffset expiresAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refreshing the access token failed: {Error}.")]
    private static partial void LogRefreshFailed(ILogger logger, string? error);
}
