using System.Text.RegularExpressions;
using Microsoft.Net.Http.Headers;

namespace IdentityServer.Hosting;

/// <summary>
/// A bearer-token refusal (userinfo's 401 and 403) says why in <c>WWW-Authenticate</c> (RFC 6750 3); its problem
/// details body says it again as <c>error</c> and <c>error_description</c>, as Keycloak's JSON does. Client libraries
/// that read a JSON body before the header (OpenIddict's client) otherwise saw a body without an error and reported
/// a generic failure instead of <c>insufficient_scope</c> or <c>invalid_token</c>.
/// </summary>
internal static partial class BearerErrors
{
    public static void AddToProblem(ProblemDetailsContext context)
    {
        foreach (var challenge in context.HttpContext.Response.Headers[HeaderNames.WWWAuthenticate])
        {
            if (challenge is null || !challenge.StartsWith("Bearer", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (Match parameter in Parameter().Matches(challenge))
            {
                var name = parameter.Groups["name"].Value;
                if (name is "error" or "error_description" or "error_uri")
                {
                    context.ProblemDetails.Extensions[name] = parameter.Groups["value"].Value.Replace("\\\"", "\"", StringComparison.Ordinal);
                }
            }
        }
    }

    [GeneratedRegex("""(?<name>[a-z_]+)="(?<value>(?:[^"\\]|\\.)*)" """, RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex Parameter();
}
