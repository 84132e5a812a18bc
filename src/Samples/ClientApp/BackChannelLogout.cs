using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace ClientApp;

/// <summary>
/// OpenID Connect Back-Channel Logout 1.0, the app's side. IdentityServer POSTs a logout token to
/// <see cref="Path"/> when a browser session that signed in to this app ends there (the user signed out through
/// another app, or an admin logged them out); this app then ends its own sessions that came from that browser session
/// (the <c>sid</c> of their ID token) at their next request. The ended session ids are kept in this process's memory,
/// which suits one instance; several instances would keep them in a store they share.
/// </summary>
public static class BackChannelLogout
{
    public const string Path = "/backchannel-logout";

    private const string LogoutEvent = "http://schemas.openid.net/event/backchannel-logout";

    public static void MapBackChannelLogout(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPost(Path, ReceiveAsync).DisableAntiforgery();

    /// <summary>Back-Channel Logout 1.0, 2.6: validated as an ID token is, plus its own rules; 400 if it fails any.</summary>
    private static async Task<IResult> ReceiveAsync(
        HttpContext http, IOptionsMonitor<OpenIdConnectOptions> oidcOptions, EndedSessions ended)
    {
        // The answer must not be cached (2.8).
        http.Response.Headers.CacheControl = "no-store";
        if (!http.Request.HasFormContentType)
        {
            return Results.BadRequest(new { error = "invalid_request" });
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var oidc = oidcOptions.Get(OpenIdConnectDefaults.AuthenticationScheme);
        var configuration = await oidc.ConfigurationManager!.GetConfigurationAsync(http.RequestAborted);
        var validated = await ValidateAsync(form["logout_token"].ToString(), oidc, configuration);
        if (validated.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            // Signed with a key published since this app last read the JWKS: read discovery and the JWKS again, once,
            // now (the manager's own refresh runs in the background), and have the manager catch up for later.
            oidc.ConfigurationManager.RequestRefresh();
            var fresh = await OpenIdConnectConfigurationRetriever.GetAsync(
                oidc.MetadataAddress!, new HttpDocumentRetriever(oidc.Backchannel) { RequireHttps = oidc.RequireHttpsMetadata }, http.RequestAborted);
            validated = await ValidateAsync(form["logout_token"].ToString(), oidc, fresh);
        }

        if (!validated.IsValid || validated.SecurityToken is not JsonWebToken token
            || !HasLogoutEvent(token) || token.TryGetClaim("nonce", out _)
            || !token.TryGetClaim("sid", out var sessionId) || string.IsNullOrEmpty(sessionId.Value))
        {
            return Results.BadRequest(new { error = "invalid_request" });
        }

        ended.Add(sessionId.Value);
        return Results.Ok();
    }

    private static Task<TokenValidationResult> ValidateAsync(string logoutToken, OpenIdConnectOptions oidc, OpenIdConnectConfiguration configuration) =>
        new JsonWebTokenHandler().ValidateTokenAsync(logoutToken, new TokenValidationParameters
        {
            ValidIssuer = configuration.Issuer,
            ValidAudience = oidc.ClientId,
            IssuerSigningKeys = configuration.SigningKeys,
            ValidTypes = ["logout+jwt"],
        });

    private static bool HasLogoutEvent(JsonWebToken token)
    {
        if (!token.TryGetClaim("events", out var events))
        {
            return false;
        }

        using var document = JsonDocument.Parse(events.Value);
        return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(LogoutEvent, out _);
    }

    /// <summary>For the session cookie: a session whose browser session ended at IdentityServer ends here too.</summary>
    public static async Task EndIfLoggedOutAsync(CookieValidatePrincipalContext context)
    {
        if (context.Principal?.FindFirst("sid")?.Value is { } sessionId
            && context.HttpContext.RequestServices.GetRequiredService<EndedSessions>().Contains(sessionId))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        }
    }
}

/// <summary>The IdentityServer sessions that have ended, by sid, for as long as a session cookie here could outlive them.</summary>
public sealed class EndedSessions(TimeProvider time)
{
    private static readonly TimeSpan KeptFor = TimeSpan.FromDays(14);

    private readonly ConcurrentDictionary<string, DateTimeOffset> ended = new(StringComparer.Ordinal);

    public void Add(string sessionId)
    {
        var now = time.GetUtcNow();
        ended[sessionId] = now;
        foreach (var (id, at) in ended)
        {
            if (now - at > KeptFor)
            {
                ended.TryRemove(id, out _);
            }
        }
    }

    public bool Contains(string sessionId) => ended.ContainsKey(sessionId);
}
