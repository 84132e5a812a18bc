using System.ComponentModel.DataAnnotations;

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
}
