using System.Collections.Immutable;
using System.Security.Claims;
using IdentityServer.Admin;
using IdentityServer.Persistence;
using IdentityServer.Users;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Primitives;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>
/// The authorization endpoint. OpenIddict has already validated the client, redirect_uri, scopes and PKCE;
/// this page decides whether the user must sign in, register or consent, then issues the code.
/// </summary>
// Clients may send authorization requests by POST without our anti-forgery token; it is checked for consent posts only.
[IgnoreAntiforgeryToken]
public sealed partial class AuthorizeModel(
    IOpenIddictApplicationManager applications,
    IOpenIddictAuthorizationManager authorizations,
    IOpenIddictScopeManager scopes,
    SignInManager<ApplicationUser> signIn,
    UserPrincipalFactory principals,
    IAntiforgery antiforgery,
    TimeProvider time,
    AuditTrail audit,
    ApplicationDbContext db,
    BackChannelLogout backChannelLogout,
    BrowserSessions browserSessions,
    IssuerAsAnOrigin issuers,
    ILogger<AuthorizeModel> logger) : PageModel
{
    private const string ConsentField = "consent";

    // Marks a request that came back from the login or registration page while it carried an id_token_hint: whoever
    // signed in there was signed in by this request. A client that sends it itself only gets login_required sooner.
    private const string SignedInForHintField = "signed_in_for_hint";

    public string ClientName { get; private set; } = string.Empty;

    public IReadOnlyList<ScopeDescription> RequestedScopes { get; private set; } = [];

    public IReadOnlyList<KeyValuePair<string, string>> RequestParameters { get; private set; } = [];

    public Task<IActionResult> OnGetAsync() => HandleAsync(consent: null);

    public async Task<IActionResult> OnPostAsync()
    {
        var consent = Request.Form[ConsentField].ToString();
        if (consent.Length == 0)
        {
            return await HandleAsync(consent: null);
        }

        if (!await antiforgery.IsRequestValidAsync(HttpContext))
        {
            // A stale form (another tab signed in since) or a forged post: nothing is granted, and the browser asks for
            // the same authorization again, which shows the consent page anew if it is still needed.
            return Redirect(ReturnUrlWithout([]));
        }

        return await HandleAsync(consent);
    }

    private async Task<IActionResult> HandleAsync(string? consent)
    {
        var request = HttpContext.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("The OpenIddict server request cannot be retrieved.");
        var cancellationToken = HttpContext.RequestAborted;

        // OpenID Connect Core 3.1.2.1: a hint the server cannot validate as its own ID token is an error, not no hint.
        var hint = await IdTokenHint.ReadAsync(HttpContext);
        if (hint.Unverifiable)
        {
            return Refuse(Errors.InvalidRequest, IdTokenHint.Invalid);
        }

        if (request.HasPromptValue(PromptValues.Create) && consent is null)
        {
            // Registering signs the user in afresh, which is what login, select_account and max_age ask for: the
            // request carries on without them, rather than sending the new user to the login page straight after.
            return Redirect(Request.PathBase + "/account/register?ReturnUrl=" + Uri.EscapeDataString(
                ReturnUrlWithout([PromptValues.Create, PromptValues.Login, PromptValues.SelectAccount], dropMaxAge: true, hint)));
        }

        var session = await HttpContext.AuthenticateAsync(IdentityConstants.ApplicationScheme);
        // The stamp is checked on every authorization request, not once a minute: a session from before a password
        // reset must not obtain a code.
        var user = session.Succeeded ? await signIn.ValidateSecurityStampAsync(session.Principal) : null;
        var authTime = AuthTime(session.Principal);

        var allowed = user is not null && await signIn.CanSignInAsync(user);
        var mustSignIn = !allowed
            // select_account: this server keeps one account per browser, so choosing one means signing in (as Keycloak).
            || ((request.HasPromptValue(PromptValues.Login) || request.HasPromptValue(PromptValues.SelectAccount)) && consent is null)
            || (request.MaxAge is { } maxAge && (authTime is null || (time.GetUtcNow() - authTime.Value).TotalSeconds > maxAge))
            // An id_token_hint names the user the client expects (OpenID Connect Core 3.1.2.1): if someone else is
            // signed in, they must sign in again, and prompt=none gets login_required rather than a code for them.
            || (hint.Subject is { } hinted && !string.Equals(hinted, user!.Id, StringComparison.Ordinal));

        if (mustSignIn)
        {
            // Someone other than the hinted user signed in for this very request: the client hears login_required
            // (OpenID Connect Core 3.1.2.1) instead of its user meeting the login page again and again.
            if (hint.Subject is not null && allowed && IncomingParameters().Any(parameter => parameter.Key == SignedInForHintField))
            {
                return Refuse(Errors.LoginRequired, "The user who signed in is not the one the id_token_hint names.");
            }

            if (request.HasPromptValue(PromptValues.None))
            {
                return Refuse(Errors.LoginRequired, "The user must sign in.");
            }

            // A session that may no longer sign in ends here. A valid one is kept: signing in on the login page replaces
            // it, and a user who walks away (anyone can send a browser to a prompt=login URL) stays signed in.
            if (user is not null && !allowed)
            {
                await signIn.SignOutAsync();
            }

            return ToLoginPage(hint);
        }

        // Validated by OpenIddict a moment ago, but an admin may have deleted it since: the client as known now.
        if (await applications.FindCurrentByClientIdAsync(request.ClientId!, cancellationToken) is not { } application)
        {
            return ClientGone();
        }

        var applicationId = await applications.GetIdAsync(application, cancellationToken);

        var requestedScopes = request.GetScopes();
        var consentGiven = await authorizations.FindAsync(
            subject: user!.Id,
            client: applicationId!,
            status: Statuses.Valid,
            type: AuthorizationTypes.Permanent,
            scopes: requestedScopes,
            cancellationToken: cancellationToken).AnyAsync(cancellationToken);

        var consentType = await applications.GetConsentTypeAsync(application, cancellationToken);
        var remembersConsent = consentType == ConsentTypes.Explicit;
        // prompt=consent asks the user whatever the client's consent type (OpenID Connect Core 3.1.2.1, as Duende does).
        var needsConsent = (remembersConsent && !consentGiven) || request.HasPromptValue(PromptValues.Consent);

        if (consent == "deny")
        {
            LogConsent(logger, user.Id, request.ClientId, "denied");
            await audit.RecordAsync(user.Id, "consent.denied", request.ClientId!);
            return Refuse(Errors.AccessDenied, "The user denied the request.");
        }

        if (needsConsent && consent != "accept")
        {
            if (request.HasPromptValue(PromptValues.None))
            {
                return Refuse(Errors.ConsentRequired, "The user must consent.");
            }

            ClientName = await applications.GetLocalizedDisplayNameAsync(application, cancellationToken) ?? request.ClientId!;
            RequestedScopes = await DescribeAsync(scopes, requestedScopes, cancellationToken);
            RequestParameters = FormParameters();
            return Page();
        }

        if (consent == "accept")
        {
            LogConsent(logger, user.Id, request.ClientId, "granted");
            await audit.RecordAsync(user.Id, "consent.granted", request.ClientId!);
        }

        var sessionId = BrowserSessions.SessionId(session.Principal);
        var identity = await principals.CreateAsync(user, requestedScopes, authTime ?? time.GetUtcNow(), cancellationToken, sessionId);
        if (UserPrincipalFactory.GrantsNoneRequested(identity, requestedScopes))
        {
            return Refuse(Errors.InvalidScope, UserPrincipalFactory.NoRequestedScopeGrantable);
        }

        ResourceIndicators.NameInTheGrant(identity, request);

        // A permanent authorization remembers the consent the user just gave to a client that asks for it (once: asked
        // again by prompt=consent for scopes already consented to, the user adds no second one).
        if (needsConsent && remembersConsent && !consentGiven)
        {
            if (await CreateAuthorizationAsync(identity, user.Id, applicationId!, AuthorizationTypes.Permanent, cancellationToken) is null)
            {
                return ClientGone();
            }

            await KeepOneRememberedConsentAsync(user.Id, applicationId!, identity.GetScopes(), cancellationToken);
        }

        // Every grant gets an ad-hoc authorization of its own: it ties the code and the tokens redeemed from it into one
        // chain, so a replayed code or refresh token revokes this login's tokens and not the user's other sessions.
        if (await CreateAuthorizationAsync(identity, user.Id, applicationId!, AuthorizationTypes.AdHoc, cancellationToken) is not { } grant)
        {
            return ClientGone();
        }

        identity.SetAuthorizationId(await authorizations.GetIdAsync(grant, cancellationToken));
        if (BackChannelLogout.UriOf(await applications.GetPropertiesAsync(application, cancellationToken)) is not null)
        {
            await backChannelLogout.RecordSignInAsync(sessionId, user.Id, applicationId!, issuers.OfRequest(HttpContext), cancellationToken);
            // A sign-out of this session that ran since its cookie was checked found no row for this app to announce:
            // of the two, whichever looks last sees the other (the row, or the ended session), so this one stops here.
            if (await browserSessions.HasEndedAsync(sessionId, cancellationToken))
            {
                return request.HasPromptValue(PromptValues.None)
                    ? Refuse(Errors.LoginRequired, "The session ended while this request was handled.")
                    : ToLoginPage(hint);
            }
        }

        return SignIn(new ClaimsPrincipal(identity), OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    // prompt=login and max_age are honoured once: the request the user returns with after signing in no longer carries
    // them, or max_age=0 (auth_time has whole seconds, so any elapsed time exceeds it) would loop forever.
    private RedirectResult ToLoginPage(IdTokenHint hint) =>
        Redirect(Request.PathBase + "/account/login?ReturnUrl=" + Uri.EscapeDataString(
            ReturnUrlWithout([PromptValues.Login, PromptValues.SelectAccount], dropMaxAge: true, hint)));

    /// <summary>
    /// The user's authorization of the client (a grant, or a remembered consent); null if an admin deleted the client
    /// since it was read: OpenIddict's store then finds no client to link it to and saves the row without one, or the
    /// row breaks a foreign key (the deletion landed between that lookup and the INSERT).
    /// </summary>
    private async Task<object?> CreateAuthorizationAsync(
        ClaimsIdentity identity, string subject, string applicationId, string type, CancellationToken cancellationToken)
    {
        try
        {
            var authorization = await authorizations.CreateAsync(identity, subject, applicationId, type, identity.GetScopes(), cancellationToken);
            if (await authorizations.GetApplicationIdAsync(authorization, cancellationToken) is null)
            {
                // A consent or grant of no client: removed rather than left valid.
                await authorizations.DeleteAsync(authorization, CancellationToken.None);
                return null;
            }

            return authorization;
        }
        catch (DbUpdateException)
        {
            if (!await applications.WasDeletedAfterRefusedSaveAsync(db, HttpContext.GetOpenIddictServerRequest()!.ClientId!, cancellationToken))
            {
                throw;
            }

            return null;
        }
    }

    /// <summary>
    /// Two tabs (or browsers) accepting the same consent at once both find none remembered and both store one. Each,
    /// once its own is saved, keeps the first of those with the same scopes (the lowest id) and revokes the others: the
    /// one that looks last sees both, whichever order they were saved in. A revocation the other request made first
    /// changes nothing (the row's concurrency token).
    /// </summary>
    private async Task KeepOneRememberedConsentAsync(
        string subject, string applicationId, ImmutableArray<string> scopes, CancellationToken cancellationToken)
    {
        var same = new List<(string Id, object Consent)>();
        await foreach (var consent in authorizations.FindAsync(
            subject, applicationId, Statuses.Valid, AuthorizationTypes.Permanent, scopes, cancellationToken))
        {
            if ((await authorizations.GetScopesAsync(consent, cancellationToken)).ToHashSet(StringComparer.Ordinal).SetEquals(scopes))
            {
                same.Add(((await authorizations.GetIdAsync(consent, cancellationToken))!, consent));
            }
        }

        foreach (var (_, extra) in same.OrderBy(consent => consent.Id, StringComparer.Ordinal).Skip(1))
        {
            await authorizations.TryRevokeAsync(extra, CancellationToken.None);
        }
    }

    /// <summary>What a request for a client that does not exist gets (see <see cref="RefuseDeletedClient"/>).</summary>
    private ForbidResult ClientGone()
    {
        RefuseDeletedClient.MarkGone(HttpContext);
        return Refuse(Errors.InvalidClient, RefuseDeletedClient.Description);
    }

    private ForbidResult Refuse(string error, string description) =>
        Forbid(
            new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
            }),
            OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);

    /// <summary>When the session's user signed in (the sign-in cookie's auth_time).</summary>
    internal static DateTimeOffset? AuthTime(ClaimsPrincipal? principal) =>
        long.TryParse(principal?.FindFirst(Claims.AuthenticationTime)?.Value, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    // As OpenIddict reads the request: the form of a POST (already read by then), the query of a GET whatever its
    // Content-Type says.
    private IEnumerable<KeyValuePair<string, StringValues>> IncomingParameters() =>
        HttpMethods.IsPost(Request.Method) && Request.HasFormContentType ? Request.Form : Request.Query;

    /// <summary>
    /// The authorization request to come back to, minus prompt values (and max_age) so they are honoured once; marked
    /// when the user goes to sign in while it carries an id_token_hint.
    /// </summary>
    private string ReturnUrlWithout(string[] promptValues, bool dropMaxAge = false, IdTokenHint? signingInFor = null)
    {
        var query = new QueryBuilder();
        if (signingInFor?.Subject is not null)
        {
            query.Add(SignedInForHintField, "1");
        }

        foreach (var (name, values) in IncomingParameters())
        {
            if (name is ConsentField or "__RequestVerificationToken" or SignedInForHintField || (dropMaxAge && name == Parameters.MaxAge))
            {
                continue;
            }

            if (name == Parameters.Prompt)
            {
                var remaining = string.Join(' ', values.ToString()
                    .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Where(value => !promptValues.Contains(value)));
                if (remaining.Length > 0)
                {
                    query.Add(name, remaining);
                }

                continue;
            }

            query.Add(name, values.ToArray()!);
        }

        return Request.PathBase + Request.Path + query.ToQueryString();
    }

    private List<KeyValuePair<string, string>> FormParameters() =>
        [.. IncomingParameters()
            .Where(parameter => parameter.Key is not (ConsentField or "__RequestVerificationToken"))
            .SelectMany(parameter => parameter.Value.Select(value => KeyValuePair.Create(parameter.Key, value ?? string.Empty)))];

    /// <summary>What the consent pages (this one and the device's) show for each scope.</summary>
    internal static async Task<List<ScopeDescription>> DescribeAsync(
        IOpenIddictScopeManager scopes, IEnumerable<string> names, CancellationToken cancellationToken)
    {
        var described = new List<ScopeDescription>();
        var stored = new Dictionary<string, string?>(StringComparer.Ordinal);
        await foreach (var scope in scopes.FindByNamesAsync([.. names], cancellationToken))
        {
            stored[(await scopes.GetNameAsync(scope, cancellationToken))!] =
                await scopes.GetLocalizedDisplayNameAsync(scope, cancellationToken) ?? await scopes.GetDescriptionAsync(scope, cancellationToken);
        }

        foreach (var name in names)
        {
            var description = StandardScopes.Descriptions.GetValueOrDefault(name)
                ?? stored.GetValueOrDefault(name)
                ?? $"Use \"{name}\" on your behalf";
            described.Add(new ScopeDescription(name, description));
        }

        return described;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} {Decision} consent to client {ClientId}.")]
    private static partial void LogConsent(ILogger logger, string userId, string? clientId, string decision);

    public sealed record ScopeDescription(string Name, string Description);
}
