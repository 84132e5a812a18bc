using Microsoft.AspNetCore.Authentication;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>The user an <c>id_token_hint</c> names, at the authorization and end session endpoints.</summary>
internal static class IdTokenHint
{
    /// <summary>The hint's subject, or null without one. OpenIddict has validated the hint and gives its principal here.</summary>
    public static async Task<string?> SubjectAsync(HttpContext context) =>
        (await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal?.GetClaim(Claims.Subject);
}
