using Microsoft.AspNetCore.Identity;

namespace IdentityServer.Users;

public sealed class ApplicationUser : IdentityUser
{
    /// <summary>The role whose users may be granted the <c>admin</c> scope (the same word, a different thing).</summary>
    public const string AdminRole = "admin";

    /// <summary>An admin can switch a user off without deleting it; sign-in and refresh both check this.</summary>
    public bool Enabled { get; set; } = true;

    public DateTimeOffset CreatedAt { get; set; }
}
