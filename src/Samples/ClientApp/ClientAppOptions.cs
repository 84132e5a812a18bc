using System.ComponentModel.DataAnnotations;
using System.Net;

namespace ClientApp;

/// <summary>How this app signs users in: the "IdentityServer" configuration section.</summary>
public sealed class SignInOptions
{
    public const string SectionName = "IdentityServer";

    /// <summary>The authorization server's issuer URL; every endpoint is found through its discovery document.</summary>
    [Required]
    public Uri? Authority { get; set; }

    [Required]
    public string ClientId { get; set; } = string.Empty;

    [Required]
    public string ClientSecret { get; set; } = string.Empty;

    public string Scopes { get; set; } = "openid profile email offline_access api1";

    /// <summary>The access token is refreshed when it expires within this margin.</summary>
    public TimeSpan RefreshBeforeExpiry { get; set; } = TimeSpan.FromMinutes(1);

    public bool AuthorityIsLoopback =>
        Authority is { } uri && (uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip)));
}

/// <summary>The API this app calls on the user's behalf: the "ResourceApi" configuration section.</summary>
public sealed class ResourceApiOptions
{
    public const string SectionName = "ResourceApi";

    [Required]
    public Uri? BaseUrl { get; set; }
}
