using Microsoft.AspNetCore.Authentication;
using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using OpenIddict.Server.AspNetCore;

namespace IdentityServer.Connect;

/// <summary>
/// Signs the user out of the server, then lets OpenIddict send the browser to the client's registered
/// post_logout_redirect_uri with its state (OpenIddict has already refused unregistered ones).
/// </summary>
internal static class EndSessionEndpoint
{
    public static void MapEndSessionEndpoint(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapMethods("/connect/endsession", [HttpMethods.Get, HttpMethods.Post], (Delegate)EndSessionAsync).ExcludeFromDescription();

    private static async Task<IResult> EndSessionAsync(HttpContext context, BrowserSessions sessions)
    {
        // Ended on the server too, so that a copy of the cookie signs nobody in either.
        var session = await context.AuthenticateAsync(IdentityConstants.ApplicationScheme);
        await sessions.EndAsync(session.Principal, context.RequestAborted);
        await context.SignOutAsync(IdentityConstants.ApplicationScheme);
        return Results.SignOut(
            new AuthenticationProperties { RedirectUri = "/account/signed-out" },
            [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
    }
}
