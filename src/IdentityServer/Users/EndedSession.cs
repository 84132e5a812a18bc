namespace IdentityServer.Users;

/// <summary>A browser session signed out on the server: its cookie, wherever a copy of it lives, signs nobody in.</summary>
public sealed class EndedSession
{
    public string Id { get; set; } = string.Empty;

    public DateTimeOffset EndedAt { get; set; }
}
