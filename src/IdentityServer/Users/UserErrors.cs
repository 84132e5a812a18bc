using Microsoft.AspNetCore.Identity;

namespace IdentityServer.Users;

/// <summary>Identity's messages, where its defaults say something untrue of this server's rules.</summary>
public sealed class UserErrors : IdentityErrorDescriber
{
    /// <summary>What a username may hold (Identity's <c>AllowedUserNameCharacters</c>), in words, for every message saying it.</summary>
    public const string UserNameCharacters = "the letters A-Z and a-z, digits and . _ @ + -";

    /// <summary>Identity's <c>AllowedUserNameCharacters</c>, set from here.</summary>
    public const string AllowedUserNameCharacters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._@+";

    public static bool IsUserNameCharacter(char character) => AllowedUserNameCharacters.Contains(character, StringComparison.Ordinal);


    /// <summary>The default says "letters or digits", yet letters outside A-Z are refused and a few symbols allowed.</summary>
    public override IdentityError InvalidUserName(string? userName) => new()
    {
        Code = nameof(InvalidUserName),
        Description = $"Username '{userName}' is invalid: use {UserNameCharacters} only.",
    };
}

public static class PasswordRules
{
    /// <summary>
    /// What the password validators say of a password, without creating anything: for forms that name every field to
    /// fix in one answer (Identity runs them only once every other field is valid, when it creates the user).
    /// </summary>
    public static async Task<IReadOnlyList<string>> ProblemsAsync(this UserManager<ApplicationUser> users, string? userName, string password)
    {
        var candidate = new ApplicationUser { UserName = userName };
        var problems = new List<string>();
        foreach (var validator in users.PasswordValidators)
        {
            problems.AddRange((await validator.ValidateAsync(users, candidate, password)).Errors.Select(error => error.Description));
        }

        return problems;
    }
}
