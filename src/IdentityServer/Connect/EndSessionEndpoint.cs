using IdentityServer.Users;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Identity;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>
/// Signs the user out of the server, then lets OpenIddict send the browser to the client's registered
/// post_logout_redirect_uri with its state (OpenIddict has already refused unregistered ones). A request that does
/// not name the signed-in user with an id_token_hint is confirmed by the user first (<c>/account/signout</c>).
/// </summary>
public static partial class EndSessionEndpoint
{
    /// <summary>The field of the confirmation form, and its value, that say the user chose to sign out.</summary>
    public const string ConfirmField = "confirm";

    public const string Confirmed = "signout";

    private const string AntiforgeryField = "__RequestVerificationToken";

    /// <summary>Fields the confirmation form adds, which are not part of the client's request.</summary>
    public static bool IsOwnField(string name) => name is ConfirmField or AntiforgeryField;

    internal static void MapEndSessionEndpoint(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapMethods(ConnectPaths.EndSession, [HttpMethods.Get, HttpMethods.Post], (Delegate)EndSessionAsync).ExcludeFromDescription();

    private static async Task<IResult> EndSessionAsync(HttpContext context, BrowserSessions sessions, IAntiforgery antiforgery, ILoggerFactory loggers)
    {
        // RP-Initiated Logout 1.0, 2: the server validates that it issued the hint. One it cannot (tampered, or from keys
        // retired since) does not vouch for the request: the user is asked as without a hint and, once they confirm,
        // lands on this server's signed-out page rather than at the client, as with Duende. Refusing would leave every
        // user of an app stuck signed in after an emergency key retirement.
        var hint = await IdTokenHint.ReadAsync(context);
        var hinted = hint.Subject;

        var session = await context.AuthenticateAsync(IdentityConstants.ApplicationScheme);
        var current = session.Principal?.GetClaim(Claims.Subject);
        if (current is not null && !IsNavigation(context.Request) && hinted != current)
        {
            // Over HTTPS the session cookie goes with cross-site requests (silent renewal needs it), so an image or a
            // script on any site could call this; a sign-out is a page the browser navigates to, or names its user.
            return Results.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "Sign-out needs a navigation.",
                detail: "Open this address in the browser, or send the id_token_hint of the signed-in user.");
        }

        // RP-Initiated Logout 1.0, 2: unless the hint names the signed-in user (no hint, one the server cannot validate,
        // or a previous user's), the server MUST ask the user whether to sign out; any site could otherwise sign its
        // visitors out with a link. Nobody signed in: nothing to ask.
        if (current is not null && hinted != current && !await ConfirmedByTheUserAsync(context, antiforgery))
        {
            return Results.Redirect(context.Request.PathBase + ConfirmationPage + await RequestQueryAsync(context.Request));
        }

        // Ended on the server too, so that a copy of the cookie signs nobody in either (and in the apps that asked). An app
        // that names the session with its ID token ends it without the browser's cookie (expired, or another browser),
        // as in Keycloak: the token is this server's, and the app may sign its user out.
        await sessions.EndAsync(current is null ? hint.SessionId : BrowserSessions.SessionId(session.Principal), context.RequestAborted);
        await context.SignOutAsync(IdentityConstants.ApplicationScheme);

        if (hint.Unverifiable)
        {
            LogUnverifiableHint(loggers.CreateLogger(typeof(EndSessionEndpoint).FullName!));
            return Results.Redirect(context.Request.PathBase + SignedOutPage);
        }

        return Results.SignOut(
            new AuthenticationProperties { RedirectUri = context.Request.PathBase + SignedOutPage },
            [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
    }

    private const string SignedOutPage = "/account/signed-out";

    private const string ConfirmationPage = "/account/signout";

    private static async Task<bool> ConfirmedByTheUserAsync(HttpContext context, IAntiforgery antiforgery) =>
        HttpMethods.IsPost(context.Request.Method) && context.Request.HasFormContentType
        && (await context.Request.ReadFormAsync(context.RequestAborted))[ConfirmField] == Confirmed
        // A stale or forged form asks again.
        && await antiforgery.IsRequestValidAsync(context);

    /// <summary>The client's request (query or form), for the confirmation page to post back.</summary>
    private static async Task<QueryString> RequestQueryAsync(HttpRequest request)
    {
        // As OpenIddict reads it: a GET's query, whatever its Content-Type says.
        var parameters = HttpMethods.IsPost(request.Method) && request.HasFormContentType
            ? (IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>>)await request.ReadFormAsync(request.HttpContext.RequestAborted)
            : request.Query;
        var query = new QueryBuilder();
        foreach (var (name, values) in parameters.Where(parameter => !IsOwnField(parameter.Key)))
        {
            query.Add(name, values.ToArray()!);
        }

        return query.ToQueryString();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "An end session request carried an id_token_hint this server cannot validate; the user was signed out and not sent back to the client.")]
    private static partial void LogUnverifiableHint(ILogger logger);

    // Browsers say what kind of request this is (Fetch Metadata); clients that do not are taken as navigations.
    private static bool IsNavigation(HttpRequest request) =>
        request.Headers["Sec-Fetch-Mode"] is not { Count: > 0 } mode || mode == "navigate";
}
