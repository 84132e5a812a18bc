using System.ComponentModel.DataAnnotations;

namespace IdentityServer.Keys;

public sealed class KeyOptions
{
    public const string SectionName = "Keys";

    /// <summary>How long a key signs (or encrypts) before a new one takes over.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "3650.00:00:00")]
    public TimeSpan KeyLifetime { get; set; } = TimeSpan.FromDays(90);

    /// <summary>How long a key stays published after it stops signing: longer than any token it signed lives.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "3650.00:00:00")]
    public TimeSpan RetentionAfterExpiry { get; set; } = TimeSpan.FromDays(30);

    [Range(2048, 4096)]
    public int RsaKeySize { get; set; } = 2048;
}
