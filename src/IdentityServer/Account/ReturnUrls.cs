using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;

namespace IdentityServer.Account;

internal static class ReturnUrls
{
    /// <summary>
    /// Only local return URLs are followed, so the pages cannot be used as an open redirector. Spaces and characters
    /// beyond ASCII (in a link someone wrote by hand) are percent-encoded: the URL ends up in a Location header.
    /// </summary>
    public static string Local(IUrlHelper url, string? returnUrl) =>
        !string.IsNullOrEmpty(returnUrl) && url.IsLocalUrl(returnUrl) && UnderPathBase(url.ActionContext.HttpContext.Request.PathBase, returnUrl)
            ? PercentEncodeUnsafe(returnUrl)
            : url.Content("~/");

    /// <summary>
    /// Under an issuer with a path (Hosting/IssuerPath) the host is shared: local means under that path, with no dot
    /// segment (browsers also read <c>%2e%2e</c> and a backslash) that would climb out of it to another app.
    /// </summary>
    private static bool UnderPathBase(PathString pathBase, string returnUrl)
    {
        if (!pathBase.HasValue)
        {
            return true;
        }

        // Decoded first: a proxy in front may decode %2F and %5C into separators before resolving dot segments.
        var path = Uri.UnescapeDataString(returnUrl[..(returnUrl.AsSpan().IndexOfAny('?', '#') is var end and >= 0 ? end : returnUrl.Length)]);
        return path.StartsWith(pathBase.Value + "/", StringComparison.Ordinal)
            && !path.Split('/', '\\').Any(segment => segment is "." or "..");
    }

    private static string PercentEncodeUnsafe(string returnUrl)
    {
        if (returnUrl.AsSpan().IndexOfAnyExceptInRange('!', '~') < 0)
        {
            return returnUrl;
        }

        var encoded = new StringBuilder(returnUrl.Length * 3);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in returnUrl.EnumerateRunes())
        {
            if (rune.IsAscii && rune.Value > ' ')
            {
                encoded.Append((char)rune.Value);
                continue;
            }

            foreach (var octet in utf8[..rune.EncodeToUtf8(utf8)])
            {
                encoded.Append('%').Append(octet.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return encoded.ToString();
    }

    /// <summary>One parameter of the authorization request the return URL resumes (once, not empty), if any.</summary>
    public static string? RequestParameter(IUrlHelper url, string? returnUrl, string name)
    {
        // Under the issuer's path, if it has one (Hosting/IssuerPath).
        var authorizePath = url.Content("~" + Connect.ConnectPaths.Authorize);
        if (string.IsNullOrEmpty(returnUrl) || !returnUrl.StartsWith(authorizePath + "?", StringComparison.Ordinal))
        {
            return null;
        }

        return QueryHelpers.ParseQuery(returnUrl[authorizePath.Length..]).TryGetValue(name, out var values)
            && values.Count == 1 && !string.IsNullOrEmpty(values[0]) ? values[0] : null;
    }
}
