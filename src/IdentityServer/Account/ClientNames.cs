using Microsoft.AspNetCore.Mvc;
using OpenIddict.Abstractions;

namespace IdentityServer.Account;

/// <summary>Which app a sign-in or registration page is serving, so the page can say "to continue to ...".</summary>
public sealed class ClientNames(IOpenIddictApplicationManager applications)
{
    /// <summary>The display name of the client whose authorization request the return URL resumes, if any.</summary>
    public async Task<string?> ForReturnUrlAsync(IUrlHelper url, string? returnUrl, CancellationToken cancellationToken)
    {
        if (ReturnUrls.RequestParameter(url, returnUrl, "client_id") is not { } clientId)
        {
            return null;
        }

        var application = await applications.FindByClientIdAsync(clientId, cancellationToken);
        return application is null
            ? null
            : await applications.GetLocalizedDisplayNameAsync(application, cancellationToken) ?? clientId;
    }
}
