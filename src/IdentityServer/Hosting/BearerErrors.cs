using System.Text.RegularExpressions;
using Microsoft.Net.Http.Headers;

namespace IdentityServer.Hosting;

/// <summary>
/// A bearer-token refusal (userinfo's 401 and 403) says why in <c>WWW-Authenticate</c> (RFC 6750 3); its problem
/// details body says it again as <c>error</c> and <c>error_description</c>, as Keycloak's JSON does. Client libraries
/// that read a JSON body before the header (OpenIddict's client) otherwise saw a body without an error and reported
/// a generic failure instead of <c>insufficient_scope</c> or <c>invalid_token</c>.
/// </summary>
/// <remarks>
/// At userinfo such a body is sent as <c>application/json</c> unless the request accepts <c>application/problem+json</c>:
/// oidc-client-ts accepts only <c>application/json</c> (or a JWT) from userinfo and took the refusal for a broken server
/// instead of an <c>invalid_token</c> it could act on. The body is the same problem details object either way.
/// </remarks>
internal static partial class BearerErrors
{
    private const string ProblemJson = "application/problem+json";

    public static void AddToProblem(ProblemDetailsContext context)
    {
        foreach (var challenge in context.HttpContext.Response.Headers[HeaderNames.WWWAuthenticate])
        {
            if (challenge is null || !challenge.StartsWith("Bearer", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var response = context.HttpContext.Response;
            // The admin API answers in problem+json always (its contract); userinfo is a protocol endpoint.
            if (context.HttpContext.Request.Path.StartsWithSegments(Connect.ConnectPaths.UserInfo, StringComparison.OrdinalIgnoreCase)
                && !context.HttpContext.Request.Headers.Accept.Any(accept => accept?.Contains(ProblemJson, StringComparison.OrdinalIgnoreCase) == true))
            {
                // The problem details writer sets its own type after this; the answer's headers go out after that.
                response.OnStarting(() =>
                {
                    response.ContentType = "application/json; charset=utf-8";
                    return Task.CompletedTask;
                });
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
