namespace IdentityServer.Users;

/// <summary>
/// A client a browser session signed in to, kept only for clients with a back-channel logout URI: when the session
/// ends, those clients are told (<see cref="Connect.BackChannelLogout"/>). Removed once they have been.
/// </summary>
public sealed class SessionClient
{
    /// <summary>The browser session's id, the <c>sid</c> of the ID tokens issued in it.</summary>
    public string SessionId { get; set; } = string.Empty;

    /// <summary>The client's stored row (OpenIddict's application id); the row goes with the client.</summary>
    public string ApplicationId { get; set; } = string.Empty;

    /// <summary>The user signed in, for ending all of a user's sessions at once.</summary>
    public string Subject { get; set; } = string.Empty;

    /// <summary>The <c>iss</c> the session's ID tokens carried, which the logout token must carry too.</summary>
    public string Issuer { get; set; } = string.Empty;

    /// <summary>When the session last signed in to the client or refreshed its tokens (written at most hourly), for pruning.</summary>
    public DateTimeOffset LastSeenAt { get; set; }
}
