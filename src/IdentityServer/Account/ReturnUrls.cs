using Microsoft.AspNetCore.Mvc;

namespace IdentityServer.Account;

internal static class ReturnUrls
{
    /// <summary>Only local return URLs are followed, so the pages cannot be used as an open redirector.</summary>
    public static string Local(IUrlHelper url, string? returnUrl) =>
        !string.IsNullOrEmpty(returnUrl) && url.IsLocalUrl(returnUrl) ? returnUrl : "/";
}
