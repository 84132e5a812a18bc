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
        if (string.IsNullOrEmpty(returnUrl) || !returnUrl.StartsWith(AuthorizePath + "?", StringComparison.Ordinal))
        {
            return null;
        }

        var query = QueryHelpers.ParseQuery(returnUrl[AuthorizePath.Length..]);
        if (!query.TryGetValue("client_id", out var clientId) || clientId.Count != 1 || string.IsNullOrEmpty(clientId[0]))
        {
            return null;
        }

        var application = await applications.FindByClientIdAsync(clientId[0]!, cancellationToken);
        return application is null
            ? null
            : await applications.GetLocalizedDisplayNameAsync(application, cancellationToken) ?? clientId[0];
    }
}
