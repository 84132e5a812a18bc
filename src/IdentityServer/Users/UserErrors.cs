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
