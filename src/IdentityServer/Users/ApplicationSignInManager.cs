using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Users;

/// <summary>
/// Adds to Identity's sign-in: a disabled user cannot sign in; the sign-in cookie records <c>auth_time</c> so the
/// authorization endpoint can honour <c>max_age</c> and put it in ID tokens, and a session id that sign-out ends on the
/// server (<see cref="BrowserSessions"/>); every refused password check costs one BCrypt verify, so its timing does
/// not tell an unknown, disabled or locked-out account from a mistyped password; and a right password verified after
/// parallel guesses locked the account is refused.
/// </summary>
public sealed class ApplicationSignInManager(
    UserManager<ApplicationUser> userManager,
    IHttpContextAccessor contextAccessor,
    IUserClaimsPrincipalFactory<ApplicationUser> claimsFactory,
    IOptions<IdentityOptions> optionsAccessor,
    ILogger<SignInManager<ApplicationUser>> logger,
    IAuthenticationSchemeProvider schemes,
    IUserConfirmation<ApplicationUser> confirmation,
    BcryptPasswordHasher bcrypt,
    BrowserSessions sessions,
    PasswordHashingThreads hashing,
    TimeProvider time)
    : SignInManager<ApplicationUser>(userManager, contextAccessor, claimsFactory, optionsAccessor, logger, schemes, confirmation)
{
    public override async Task<bool> CanSignInAsync(ApplicationUser user) =>
        user.Enabled && await base.CanSignInAsync(user);

    /// <summary>
    /// Identity refuses a disabled or locked-out user before it checks the password, in microseconds where a wrong
    /// password takes a BCrypt verify: an attacker could tell those accounts exist. The verify is spent anyway.
    /// </summary>
    public override async Task<SignInResult> CheckPasswordSignInAsync(ApplicationUser user, string password, bool lockoutOnFailure)
    {
        if (await PreSignInCheck(user) is { } refused)
        {
            await SpendOnePasswordCheckAsync(password);
            return refused;
        }

        var result = await base.CheckPasswordSignInAsync(user, password, lockoutOnFailure);
        if (result.Succeeded && lockoutOnFailure && UserManager is ApplicationUserManager users && await users.IsLockedOutNowAsync(user))
        {
            // Guesses sent at once were all checked before any of them locked the account: one that was right still
            // must not get in once the others have locked it.
            return SignInResult.LockedOut;
        }

        return result;
    }

    /// <summary>
    /// Costs what checking a real account's password costs; for a username that matches no account. Skipped, as a
    /// real check is, when the caller hung up before a hashing thread was free.
    /// </summary>
    public Task SpendOnePasswordCheckAsync(string password) =>
        hashing.RunAsync(() => UserManager.PasswordHasher.VerifyHashedPassword(new ApplicationUser(), bcrypt.DummyHash, password),
            Context.RequestAborted);

    public override async Task SignInWithClaimsAsync(ApplicationUser user, AuthenticationProperties? authenticationProperties, IEnumerable<Claim> additionalClaims)
    {
        var authTime = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        await base.SignInWithClaimsAsync(user, authenticationProperties,
            additionalClaims.Append(new Claim(Claims.AuthenticationTime, authTime, ClaimValueTypes.Integer64))
                .Append(await SessionIdForAsync(user)));
    }

    /// <summary>
    /// One session per browser, so that signing out ends every cookie it held: the same user signing in again
    /// (prompt=login, max_age) continues their session id, as in Duende; another user signing in ends the previous
    /// user's session first.
    /// </summary>
    private async Task<Claim> SessionIdForAsync(ApplicationUser user)
    {
        var previous = await Context.AuthenticateAsync(IdentityConstants.ApplicationScheme);
        if (previous.Principal is not { } principal)
        {
            return BrowserSessions.NewSessionId();
        }

        if (principal.FindFirst(Options.ClaimsIdentity.UserIdClaimType)?.Value == user.Id
            && principal.FindFirst(BrowserSessions.SessionIdClaim) is { } current)
        {
            return new Claim(current.Type, current.Value);
        }

        await sessions.EndAsync(principal, Context.RequestAborted);
        return BrowserSessions.NewSessionId();
    }
}
