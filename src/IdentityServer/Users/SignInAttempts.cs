using IdentityServer.Admin;
using IdentityServer.Hosting;
using Microsoft.AspNetCore.Identity;

namespace IdentityServer.Users;

/// <summary>
/// How a password sign-in attempt is recorded wherever it is made (the login page, the password grant): counted in the
/// "IdentityServer" meter and written to the audit trail, an unknown name under one target so that the trail does not
/// collect guessed names.
/// </summary>
public sealed class SignInAttempts(AuditTrail audit, IdentityServerMetrics metrics)
{
    public Task UnknownUserAsync()
    {
        metrics.LoginFailed();
        return audit.RecordAsync("anonymous", "login.failed", "unknown-user");
    }

    public Task RefusedAsync(ApplicationUser user, SignInResult result)
    {
        metrics.LoginFailed();
        return audit.RecordAsync("anonymous", result.IsLockedOut ? "login.locked_out" : "login.failed", user.Id);
    }

    public Task SucceededAsync(ApplicationUser user)
    {
        metrics.LoginSucceeded();
        return audit.RecordAsync(user.Id, "login.succeeded", user.Id);
    }
}
