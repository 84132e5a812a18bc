using System.ComponentModel.DataAnnotations;
using IdentityServer.Connect;
using Microsoft.Extensions.Options;

namespace IdentityServer.Keys;

public sealed class KeyOptions : IValidatableObject
{
    public const string SectionName = "Keys";

    /// <summary>How long a key signs (or encrypts) before the next one takes over.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "3650.00:00:00")]
    public TimeSpan KeyLifetime { get; set; } = TimeSpan.FromDays(90);

    /// <summary>
    /// How long before it starts signing a new key is published in the JWKS, so that resource APIs caching the
    /// JWKS already know it when the first token it signed arrives.
    /// </summary>
    [Range(typeof(TimeSpan), "00:10:00", "365.00:00:00")]
    public TimeSpan PublishAhead { get; set; } = TimeSpan.FromDays(2);

    /// <summary>
    /// How long a key stays published (and validating) after it stops signing: at least as long as any token it
    /// protected lives, which for the symmetric keys means the refresh token lifetime (checked at start).
    /// </summary>
    [Range(typeof(TimeSpan), "01:00:00", "3650.00:00:00")]
    public TimeSpan RetentionAfterExpiry { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How often each instance re-reads the keys, so instances sharing a database agree.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMinutes(10);

    [Range(2048, 4096)]
    public int RsaKeySize { get; set; } = 2048;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (PublishAhead >= KeyLifetime)
        {
            yield return new ValidationResult("Keys:PublishAhead must be shorter than Keys:KeyLifetime.", [nameof(PublishAhead)]);
        }

        if (RefreshInterval >= PublishAhead)
        {
            yield return new ValidationResult(
                "Keys:RefreshInterval must be shorter than Keys:PublishAhead, or an instance could sign with a key others have not published yet.",
                [nameof(RefreshInterval)]);
        }
    }
}

/// <summary>
/// A key must validate every token it protected until that token expires: a refresh token issued just before its key
/// stopped signing lives IdentityServer:RefreshTokenLifetime longer, and would otherwise be refused before it expires.
/// </summary>
internal sealed class KeysOutliveTokens(IOptions<ConnectOptions> connect) : IValidateOptions<KeyOptions>
{
    public ValidateOptionsResult Validate(string? name, KeyOptions options)
    {
        var tokens = connect.Value;
        var (setting, longest) = new (string Setting, TimeSpan Lifetime)[]
        {
            ("IdentityServer:RefreshTokenLifetime", tokens.RefreshTokenLifetime),
            ("IdentityServer:AccessTokenLifetime", tokens.AccessTokenLifetime),
            ("IdentityServer:IdentityTokenLifetime", tokens.IdentityTokenLifetime),
            ("IdentityServer:AuthorizationCodeLifetime", tokens.AuthorizationCodeLifetime),
        }.MaxBy(lifetime => lifetime.Lifetime);

        return options.RetentionAfterExpiry >= longest
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"Keys:RetentionAfterExpiry ({options.RetentionAfterExpiry}) must be at least {setting} ({longest}), " +
                "or tokens issued just before a key rotation would be refused before they expire.");
    }
}
