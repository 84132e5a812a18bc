using System.Security.Claims;
using IdentityServer.Admin;
using IdentityServer.Users;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>
/// RFC 8628's verification page. A device without a browser (a TV, a command-line tool) got a user code from the
/// device authorization endpoint; its user opens this page on a phone or computer, signs in, enters the code and
/// approves or denies the device. The device, polling the token endpoint meanwhile, then gets its tokens or
/// access_denied. The user always confirms here, whatever the client's consent type: a code can be passed on by
/// someone else (RFC 8628 5.4), so the page names the app and the code before anything is granted.
/// </summary>
// The confirmation's anti-forgery token is checked by hand: a stale one starts the confirmation again.
[IgnoreAntiforgeryToken]
public sealed partial class VerifyModel(
    IOpenIddictApplicationManager applications,
    IOpenIddictAuthorizationManager authorizations,
    IOpenIddictScopeManager scopes,
    SignInManager<ApplicationUser> signIn,
    UserPrincipalFactory principals,
    IAntiforgery antiforgery,
    TimeProvider time,
    AuditTrail audit,
    ILogger<VerifyModel> logger) : PageModel
{
    private const string OutcomeField = "outcome";
    private const string DecisionField = "decision";

    public enum Steps { EnterCode, Confirm, Approved, Denied, NotGrantable }

    public Steps Step { get; private set; }

    public string? ErrorMessage { get; private set; }

    public string ClientName { get; private set; } = string.Empty;

    public string? UserCode { get; private set; }

    public IReadOnlyList<AuthorizeModel.ScopeDescription> RequestedScopes { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync()
    {
        // Where the approval or denial sends the browser: nothing to sign in for.
        switch (Request.Query[OutcomeField].ToString())
        {
            case "approved":
                Step = Steps.Approved;
                return Page();
            case "denied":
                Step = Steps.Denied;
                return Page();
            case "not-grantable":
                Step = Steps.NotGrantable;
                return Page();
        }

        if (await SignedInUserAsync() is null)
        {
            return ToLoginPage(Request.QueryString.Value);
        }

        if (string.IsNullOrEmpty(OpenIddictRequest().UserCode))
        {
            return Page();
        }

        if (await DeviceRequestAsync() is not { } device)
        {
            return CodeNotValid();
        }

        return await ConfirmAsync(device);
    }

    public async Task<IActionResult> OnPostAsync()
    {
        var cancellationToken = HttpContext.RequestAborted;
        var userCode = OpenIddictRequest().UserCode;
        var again = string.IsNullOrEmpty(userCode) ? string.Empty : "?user_code=" + Uri.EscapeDataString(userCode);
        if (!await antiforgery.IsRequestValidAsync(HttpContext))
        {
            // A stale form (another tab signed in since) or a forged post: nothing is granted or refused, and the
            // browser asks again.
            return Redirect(Request.PathBase + ConnectPaths.Verify + again);
        }

        if (await SignedInUserAsync() is not { } signedIn)
        {
            return ToLoginPage(again);
        }

        var (user, authTime) = signedIn;
        if (string.IsNullOrWhiteSpace(userCode))
        {
            ErrorMessage = "Enter the code shown on your device.";
            return Page();
        }

        if (await DeviceRequestAsync() is not { } device)
        {
            return CodeNotValid();
        }

        switch (Request.Form[DecisionField].ToString())
        {
            case "deny":
                LogDecision(logger, user.Id, device.ClientId, "denied");
                await audit.RecordAsync(user.Id, "device.denied", device.ClientId);
                // OpenIddict marks the device code rejected: the device's next poll gets access_denied.
                return Forbid(Outcome("denied"), OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);

            case "accept":
                var requested = device.Principal.GetScopes();
                var identity = await principals.CreateAsync(user, requested, authTime ?? time.GetUtcNow(), cancellationToken);
                if (UserPrincipalFactory.GrantsNoneRequested(identity, requested))
                {
                    // Refused, not left pending: the device hears access_denied at its next poll.
                    return Forbid(Outcome("not-grantable"), OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
                }

                // The grant OpenIddict opened when the device asked (its device code belongs to it, and the device's
                // tokens will) becomes this user's: the user's grants list it, an admin's revocation of them ends it, and
                // a replayed refresh token revokes this device's chain alone.
                if (await TakeOverGrantAsync(device.Principal, user.Id, identity, cancellationToken) is not { } grantId)
                {
                    return CodeNotValid();
                }

                identity.SetAuthorizationId(grantId);
                LogDecision(logger, user.Id, device.ClientId, "approved");
                await audit.RecordAsync(user.Id, "device.approved", device.ClientId);
                return SignIn(new ClaimsPrincipal(identity), Outcome("approved"), OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);

            default:
                return await ConfirmAsync(device);
        }
    }

    /// <summary>Names the user as the subject of the device's grant; null if it is gone (its client deleted) or someone else's.</summary>
    private async Task<string?> TakeOverGrantAsync(ClaimsPrincipal userCode, string subject, ClaimsIdentity identity, CancellationToken cancellationToken)
    {
        if (userCode.GetAuthorizationId() is not { Length: > 0 } grantId
            || await authorizations.FindByIdAsync(grantId, cancellationToken) is not { } grant
            || !await authorizations.HasStatusAsync(grant, Statuses.Valid, cancellationToken))
        {
            return null;
        }

        // Taken already: by this user in an approval that failed after it (a double click, a dropped connection), which
        // may be tried again (the user code is still single-use), or by someone else.
        if (await authorizations.GetSubjectAsync(grant, cancellationToken) is { Length: > 0 } taken)
        {
            return string.Equals(taken, subject, StringComparison.Ordinal) ? grantId : null;
        }

        var descriptor = new OpenIddictAuthorizationDescriptor();
        await authorizations.PopulateAsync(descriptor, grant, cancellationToken);
        descriptor.Subject = subject;
        descriptor.Scopes.Clear();
        descriptor.Scopes.UnionWith(identity.GetScopes());
        try
        {
            await authorizations.UpdateAsync(grant, descriptor, cancellationToken);
        }
        catch (OpenIddictExceptions.ConcurrencyException)
        {
            // Another tab approved (or an admin revoked) it a moment ago.
            return null;
        }

        return grantId;
    }

    private async Task<IActionResult> ConfirmAsync(DeviceRequest device)
    {
        Step = Steps.Confirm;
        UserCode = AsTheDeviceShowsIt(OpenIddictRequest().UserCode!);
        ClientName = await applications.GetLocalizedDisplayNameAsync(device.Application, HttpContext.RequestAborted) ?? device.ClientId;
        RequestedScopes = await AuthorizeModel.DescribeAsync(scopes, device.Principal.GetScopes(), HttpContext.RequestAborted);
        return Page();
    }

    /// <summary>
    /// The code as typed (OpenIddict ignores what is not a digit), written as devices show it: 1234-5678-9012, so the
    /// user compares like with like.
    /// </summary>
    private static string AsTheDeviceShowsIt(string typed)
    {
        var digits = string.Concat(typed.Where(char.IsAsciiDigit));
        return string.Join('-', digits.Chunk(4).Select(group => new string(group)));
    }

    private PageResult CodeNotValid()
    {
        Step = Steps.EnterCode;
        ErrorMessage = "That code is not valid. It may have expired or been used already: check the code on your device, or start again there.";
        return Page();
    }

    private sealed record DeviceRequest(ClaimsPrincipal Principal, object Application, string ClientId);

    /// <summary>The device authorization the user code stands for (OpenIddict checks the code), with its client as now.</summary>
    private async Task<DeviceRequest?> DeviceRequestAsync()
    {
        var cancellationToken = HttpContext.RequestAborted;
        var result = await HttpContext.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        if (result.Principal is not { } principal
            || principal.GetClaim(Claims.ClientId) is not { Length: > 0 } clientId
            // An admin may have deleted the client since the device asked.
            || await applications.FindCurrentByClientIdAsync(clientId, cancellationToken) is not { } application)
        {
            return null;
        }

        return new DeviceRequest(principal, application, clientId);
    }

    /// <summary>
    /// The signed-in user, checked as the authorization endpoint checks them (security stamp, still allowed to sign
    /// in), with the time they signed in; null when they must sign in.
    /// </summary>
    private async Task<(ApplicationUser User, DateTimeOffset? AuthTime)?> SignedInUserAsync()
    {
        var session = await HttpContext.AuthenticateAsync(IdentityConstants.ApplicationScheme);
        var user = session.Succeeded ? await signIn.ValidateSecurityStampAsync(session.Principal) : null;
        if (user is null)
        {
            return null;
        }

        if (!await signIn.CanSignInAsync(user))
        {
            await signIn.SignOutAsync();
            return null;
        }

        return (user, AuthorizeModel.AuthTime(session.Principal));
    }

    private RedirectResult ToLoginPage(string? query) =>
        Redirect(Request.PathBase + "/account/login?ReturnUrl=" + Uri.EscapeDataString(Request.PathBase + ConnectPaths.Verify + query));

    /// <summary>Where OpenIddict sends the browser once it has recorded the user's decision.</summary>
    private AuthenticationProperties Outcome(string outcome) =>
        new() { RedirectUri = Request.PathBase + ConnectPaths.Verify + "?" + OutcomeField + "=" + outcome };

    private OpenIddictRequest OpenIddictRequest() =>
        HttpContext.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("The OpenIddict server request cannot be retrieved.");

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} {Decision} a device of client {ClientId}.")]
    private static partial void LogDecision(ILogger logger, string userId, string clientId, string decision);
}
