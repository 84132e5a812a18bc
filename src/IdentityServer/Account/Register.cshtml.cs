using System.ComponentModel.DataAnnotations;
using IdentityServer.Admin;
using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace IdentityServer.Account;

public sealed partial class RegisterModel(
    UserManager<ApplicationUser> users,
    SignInManager<ApplicationUser> signIn,
    TimeProvider time,
    AuditTrail audit,
    ClientNames clientNames,
    ILogger<RegisterModel> logger) : PageModel
{
    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    [BindProperty]
    public RegisterInput Input { get; set; } = new();

    public string LoginUrl => Url.Page("/Account/Login", new { ReturnUrl = ReturnUrls.Local(Url, ReturnUrl) }) ?? "/account/login";

    /// <summary>The app the account is being created for, when the page serves an authorization request.</summary>
    public string? ClientName { get; private set; }

    /// <summary>Whether a field was rejected, to mark its input for assistive technology.</summary>
    public bool HasError(string field) => ModelState.TryGetValue(field, out var entry) && entry.Errors.Count > 0;

    public async Task OnGetAsync() =>
        ClientName = await clientNames.ForReturnUrlAsync(Url, ReturnUrls.Local(Url, ReturnUrl), HttpContext.RequestAborted);

    public async Task<IActionResult> OnPostAsync()
    {
        ClientName = await clientNames.ForReturnUrlAsync(Url, ReturnUrls.Local(Url, ReturnUrl), HttpContext.RequestAborted);
        if (!ModelState.IsValid)
        {
            // Identity checks the password only on create; named now too, a weak one is not reported a round trip late.
            if (!HasError("Input.Password") && !string.IsNullOrEmpty(Input.Password))
            {
                foreach (var problem in await users.ProblemsAsync(Input.Username?.Trim(), Input.Password))
                {
                    ModelState.AddModelError("Input.Password", problem);
                }
            }

            return Page();
        }

        var user = new ApplicationUser
        {
            UserName = Input.Username!.Trim(),
            Email = Input.Email!.Trim(),
            CreatedAt = time.GetUtcNow(),
        };

        var result = await users.CreateAsync(user, Input.Password!);
        if (!result.Succeeded)
        {
            foreach (var error in result.Errors)
            {
                ModelState.AddModelError(FieldFor(error.Code), error.Description);
            }

            return Page();
        }

        LogRegistered(logger, user.Id);
        await audit.RecordAsync(user.Id, "user.registered", user.Id);
        // Signed in straight away, so the authorization request this page came from carries on to the client.
        await signIn.SignInAsync(user, isPersistent: false);
        return LocalRedirect(ReturnUrls.Local(Url, ReturnUrl));
    }

    private static string FieldFor(string identityErrorCode) => identityErrorCode switch
    {
        _ when identityErrorCode.StartsWith("Password", StringComparison.Ordinal) => "Input.Password",
        _ when identityErrorCode.Contains("Email", StringComparison.Ordinal) => "Input.Email",
        _ when identityErrorCode.Contains("UserName", StringComparison.Ordinal) => "Input.Username",
        _ => string.Empty,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} registered.")]
    private static partial void LogRegistered(ILogger logger, string userId);

    public sealed class RegisterInput
    {
        [Required(ErrorMessage = "Choose a username.")]
        [StringLength(64, MinimumLength = 2, ErrorMessage = "Usernames are 2 to 64 characters.")]
        [RegularExpression("^[A-Za-z0-9._@+-]+$", ErrorMessage = "Use " + UserErrors.UserNameCharacters + " only.")]
        public string? Username { get; set; }

        [Required(ErrorMessage = "Enter your email address.")]
        [Mailbox(ErrorMessage = "Enter a valid email address.")]
        [StringLength(256, ErrorMessage = "Email addresses are at most 256 characters.")]
        public string? Email { get; set; }

        [Required(ErrorMessage = "Choose a password.")]
        public string? Password { get; set; }

        [Required(ErrorMessage = "Repeat your password.")]
        [Compare(nameof(Password), ErrorMessage = "The passwords do not match.")]
        public string? ConfirmPassword { get; set; }
    }
}
