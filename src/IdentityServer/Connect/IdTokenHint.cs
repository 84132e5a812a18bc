using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>
/// The <c>id_token_hint</c> of an authorization or end session request: the user it names, or that it was sent and
/// cannot be validated as an ID token of this server (not ours, not an ID token, tampered; an expired one is valid);
/// and the browser session it was issued in, if any.
/// </summary>
internal sealed record IdTokenHint(string? Subject, bool Unverifiable, string? SessionId = null)
{
    public const string Invalid = "The id_token_hint is not an ID token issued by this server.";

    private static readonly IdTokenHint None = new(Subject: null, Unverifiable: false);

    /// <summary>OpenIddict has validated the hint and gives its principal here; without a hint nothing is read.</summary>
    public static async Task<IdTokenHint> ReadAsync(HttpContext context)
    {
        // Sent without a value, it counts as not sent (RFC 6749 3.1).
        if (string.IsNullOrEmpty(context.GetOpenIddictServerRequest()?.IdTokenHint))
        {
            return None;
        }

        var principal = (await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
        var subject = principal?.GetClaim(Claims.Subject);
        return new IdTokenHint(subject, Unverifiable: subject is null, principal?.GetClaim(Users.BrowserSessions.SessionIdClaim));
    }
}
