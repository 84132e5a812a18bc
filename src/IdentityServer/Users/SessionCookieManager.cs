using Microsoft.AspNetCore.Authentication.Cookies;

namespace IdentityServer.Users;

/// <summary>
/// The sign-in cookie goes with cross-site requests when served over HTTPS (SameSite=None; Secure), as Keycloak's and
/// Duende's do: an app on another site renews its tokens silently with prompt=none in a hidden iframe, where a Lax
/// cookie is left off and every renewal answers login_required. Forms keep their anti-forgery tokens, and the end
/// session endpoint ignores cross-site subresource requests. Plain HTTP (loopback only) keeps Lax: browsers refuse
/// SameSite=None without Secure.
/// </summary>
internal sealed class SessionCookieManager : ICookieManager
{
    private readonly ChunkingCookieManager chunks = new();

    public string? GetRequestCookie(HttpContext context, string key) => chunks.GetRequestCookie(context, key);

    public void AppendResponseCookie(HttpContext context, string key, string? value, CookieOptions options) =>
        chunks.AppendResponseCookie(context, key, value, ForRequest(context, options));

    public void DeleteCookie(HttpContext context, string key, CookieOptions options) =>
        chunks.DeleteCookie(context, key, ForRequest(context, options));

    private static CookieOptions ForRequest(HttpContext context, CookieOptions options)
    {
        if (context.Request.IsHttps)
        {
            options.SameSite = SameSiteMode.None;
            options.Secure = true;
        }

        return options;
    }
}
