using Microsoft.AspNetCore.WebUtilities;
using OpenIddict.Abstractions;

namespace IdentityServer.Account;

/// <summary>Which app a sign-in or registration page is serving, so the page can say "to continue to ...".</summary>
public sealed class ClientNames(IOpenIddictApplicationManager applications)
{
    private const string AuthorizePath = "/connect/authorize";

    /// <summary>The display name of the client whose authorization request the return URL resumes, if any.</summary>
    public async Task<string?> ForReturnUrlAsync(string? returnUrl, CancellationToken cancellationToken)
    {
        if (RequestParameter(returnUrl, "client_id") is not { } clientId)
        {
            return null;
        }

        var application = await applications.FindByClientIdAsync(clientId, cancellationToken);
        return application is null
            ? null
            : await applications.GetLocalizedDisplayNameAsync(application, cancellationToken) ?? clientId;
    }

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
