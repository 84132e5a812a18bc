using Microsoft.AspNetCore.Authentication;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>The user an <c>id_token_hint</c> names, at the authorization and end session endpoints.</summary>
internal static class IdTokenHint
{
    public const string Invalid = "The id_token_hint is not an ID token issued by this server.";

    /// <summary>
    /// The hint's subject, or null without one or when it is not valid (not ours, not an ID token, tampered; an expired
    /// one is valid here). OpenIddict has validated the hint and gives its principal here.
    /// </summary>
    public static async Task<string?> SubjectAsync(HttpContext context) =>
        (await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal?.GetClaim(Claims.Subject);
}
