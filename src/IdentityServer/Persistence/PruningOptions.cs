using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace IdentityServer.Persistence;

public sealed class PruningOptions
{
    public const string SectionName = "Pruning";

    /// <summary>Whether the server deletes spent tokens and authorizations by itself.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Time between two prune runs.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long a redeemed, revoked or expired entry stays in the database before it is deleted. Keeping them a while
    /// lets reuse of a redeemed refresh token be recognised (and its chain revoked) and leaves a trail to investigate.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "365.00:00:00")]
    public TimeSpan RetainFor { get; set; } = TimeSpan.FromDays(14);

    /// <summary>
    /// How long audit events are kept. Every sign-in writes one, failed ones by anyone who can reach the login page
    /// included, so without an end the table grows with the traffic forever.
    /// </summary>
    [Range(typeof(TimeSpan), "1.00:00:00", "3650.00:00:00")]
    public TimeSpan AuditRetainFor { get; set; } = TimeSpan.FromDays(365);
}

/// <summary>
/// A redeemed refresh token can be presented again until it expires; its row must still be there then, or the reuse
/// is not recognised (an unknown token is refused, but its chain stays valid). So entries are kept at least as long as
/// a refresh token lives.
/// </summary>
internal sealed class PruningKeepsRefreshTokensToExpiry(IOptions<Connect.ConnectOptions> connect) : IValidateOptions<PruningOptions>
{
    public ValidateOptionsResult Validate(string? name, PruningOptions options) =>
        !options.Enabled || options.RetainFor >= connect.Value.RefreshTokenLifetime
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"Pruning:RetainFor ({options.RetainFor}) must be at least IdentityServer:RefreshTokenLifetime ({connect.Value.RefreshTokenLifetime}), " +
                "or a refresh token presented a second time after its row was pruned would not revoke its chain.");
}
