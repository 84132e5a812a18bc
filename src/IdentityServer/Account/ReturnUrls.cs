using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;

namespace IdentityServer.Account;

internal static class ReturnUrls
{
    /// <summary>Only local return URLs are followed, so the pages cannot be used as an open redirector.</summary>
    public static string Local(IUrlHelper url, string? returnUrl) =>
        !string.IsNullOrEmpty(returnUrl) && url.IsLocalUrl(returnUrl) ? returnUrl : "/";

    private const string AuthorizePath = Connect.ConnectPaths.Authorize;

    /// <summary>One parameter of the authorization request the return URL resumes (once, not empty), if any.</summary>
    public static string? RequestParameter(string? returnUrl, string name)
    {
        if (string.IsNullOrEmpty(returnUrl) || !returnUrl.StartsWith(AuthorizePath + "?", StringComparison.Ordinal))
        {
            return null;
        }

        return QueryHelpers.ParseQuery(returnUrl[AuthorizePath.Length..]).TryGetValue(name, out var values)
            && values.Count == 1 && !string.IsNullOrEmpty(values[0]) ? values[0] : null;
    }
}
