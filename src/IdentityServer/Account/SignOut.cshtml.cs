using IdentityServer.Connect;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace IdentityServer.Account;

/// <summary>
/// Asks the user before an end session request that does not name them signs them out (RP-Initiated Logout 1.0, 2:
/// the server MUST ask when there is no id_token_hint, as Keycloak and Duende do). The form posts the request back to
/// the end session endpoint with the answer and an anti-forgery token.
/// </summary>
public sealed class SignOutModel : PageModel
{
    public IReadOnlyList<KeyValuePair<string, string>> RequestParameters { get; private set; } = [];

    /// <summary>An app's request (it names itself or where to go back), not the server's own Sign out form come back
    /// because its anti-forgery token had expired.</summary>
    public bool SentByApp => RequestParameters.Any(parameter =>
        parameter.Key is OpenIddict.Abstractions.OpenIddictConstants.Parameters.ClientId
            or OpenIddict.Abstractions.OpenIddictConstants.Parameters.PostLogoutRedirectUri
            or OpenIddict.Abstractions.OpenIddictConstants.Parameters.IdTokenHint);

    public void OnGet() =>
        RequestParameters = [.. Request.Query
            .Where(parameter => !EndSessionEndpoint.IsOwnField(parameter.Key))
            .SelectMany(parameter => parameter.Value.Select(value => KeyValuePair.Create(parameter.Key, value ?? string.Empty)))];
}
