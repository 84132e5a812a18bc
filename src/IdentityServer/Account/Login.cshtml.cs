using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace IdentityServer.Account;

public sealed partial class LoginModel(
    UserManager<ApplicationUser> users,
    ApplicationSignInManager signIn,
    SignInAttempts attempts,
    ClientNames clientNames,
    ILogger<LoginModel> logger) : PageModel
{
    // One message for every failure, so the page never tells whether an account exists.
    internal const string InvalidCredentials = "The username or password is incorrect.";

    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    [BindProperty]
    public string? Username { get; set; }

    [BindProperty]
    public string? Password { get; set; }

    public string? ErrorMessage { get; private set; }

    /// <summary>The app the user is signing in to, when the page serves an authorization request.</summary>
    public string? ClientName { get; private set; }

    public string RegisterUrl => Url.Page("/Account/Register", new { ReturnUrl = SafeReturnUrl }) ?? "/account/register";

    private string SafeReturnUrl => ReturnUrls.Local(Url, ReturnUrl);

    public async Task OnGetAsync()
    {
        ClientName = await clientNames.ForReturnUrlAsync(Url, SafeReturnUrl, HttpContext.RequestAborted);
        // The app may already know who is signing in (OpenID Connect's login_hint): the field starts filled in.
        Username ??= ReturnUrls.RequestParameter(Url, SafeReturnUrl, "login_hint") is { Length: <= 256 } hint ? hint : null;
    }

    public async Task<IActionResult> OnPostAsync()
    {
        ClientName = await clientNames.ForReturnUrlAsync(Url, SafeReturnUrl, HttpContext.RequestAborted);
        if (string.IsNullOrWhiteSpace(Username) || string.IsNullOrEmpty(Password))
        {
            ErrorMessage = InvalidCredentials;
            return Page();
        }

        var user = await users.FindByNameAsync(Username) ?? await users.FindByEmailAsync(Username);
        if (user is null)
        {
            await signIn.SpendOnePasswordCheckAsync(Password);
            LogFailedLogin(logger, "unknown user");
            await attempts.UnknownUserAsync();
            ErrorMessage = InvalidCredentials;
            return Page();
        }

        var result = await signIn.PasswordSignInAsync(user, Password, isPersistent: false, lockoutOnFailure: true);
        if (!result.Succeeded)
        {
            LogFailedLogin(logger, result.IsLockedOut ? "locked out" : result.IsNotAllowed ? "not allowed" : "wrong password");
            await attempts.RefusedAsync(user, result);
            ErrorMessage = InvalidCredentials;
            return Page();
        }

        LogLogin(logger, user.Id);
        await attempts.SucceededAsync(user);
        return LocalRedirect(SafeReturnUrl);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Login failed: {Reason}.")]
    private static partial void LogFailedLogin(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} signed in.")]
    private static partial void LogLogin(ILogger logger, string userId);
}
