using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;

namespace IdentityServer.Connect;

public sealed partial class ConnectOptions : IValidatableObject
{
    public const string SectionName = "IdentityServer";

    /// <summary>Absolute issuer URL; when unset, each request's own origin is the issuer.</summary>
    public Uri? Issuer { get; set; }

    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan IdentityTokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    [Range(typeof(TimeSpan), "00:00:10", "00:10:00")]
    public TimeSpan AuthorizationCodeLifetime { get; set; } = TimeSpan.FromMinutes(2);

    [Range(typeof(TimeSpan), "00:05:00", "365.00:00:00")]
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(14);

    /// <summary>
    /// How long client and scope registrations (and a verified human-chosen client secret) are kept in memory.
    /// Changes made through this instance apply at once; another instance on the same database picks them up within
    /// this time. Zero reads them every time.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan MetadataCacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an app has to answer a back-channel logout; the request that ended the session waits that long at most.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:01:00")]
    public TimeSpan BackChannelLogoutTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Issuer is null)
        {
            yield break;
        }

        if (!Issuer.IsAbsoluteUri || Issuer.Scheme is not ("https" or "http") || !string.IsNullOrEmpty(Issuer.Query) || !string.IsNullOrEmpty(Issuer.Fragment))
        {
            yield return new ValidationResult("IdentityServer:Issuer must be an absolute http(s) URL without query or fragment.", [nameof(Issuer)]);
        }
        else if (Issuer.Scheme == "http" && !Issuer.IsLoopback)
        {
            yield return new ValidationResult("IdentityServer:Issuer may use plain HTTP only on a loopback address; use https.", [nameof(Issuer)]);
        }
        else if (!string.IsNullOrEmpty(Issuer.UserInfo))
        {
            yield return new ValidationResult("IdentityServer:Issuer must not hold a user name or password.", [nameof(Issuer)]);
        }
        else if (!PlainPath().IsMatch(Issuer.AbsolutePath) || !PlainPath().IsMatch(WrittenPath(Issuer.OriginalString)))
        {
            // The path becomes the PathBase of every page, cookie and endpoint (Hosting/IssuerPath): plain segments only.
            yield return new ValidationResult(
                "IdentityServer:Issuer's path must be made of plain segments (letters, digits, '-', '.', '_', '~'), such as https://example.com/id.",
                [nameof(Issuer)]);
        }
    }

    // The path as the operator wrote it: Uri has already resolved "/id/../x" to "/x" and turned a backslash into "/",
    // and the issuer is published as written.
    private static string WrittenPath(string issuer)
    {
        var afterScheme = issuer.IndexOf("://", StringComparison.Ordinal) is var scheme and >= 0 ? scheme + 3 : 0;
        var pathStart = issuer.AsSpan(afterScheme).IndexOfAny('/', '\\');
        return pathStart < 0 ? "/" : issuer[(afterScheme + pathStart)..];
    }

    [GeneratedRegex(@"^(/|(/(?!\.{1,2}(/|$))[A-Za-z0-9._~-]+)+/?)$")]
    private static partial Regex PlainPath();
}
