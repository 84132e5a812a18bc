namespace IdentityServer.Connect;

/// <summary>
/// A failure inside a protocol endpoint that answers JSON (the database out, say) still answers 500 with problem
/// details, plus the members OAuth client libraries read (<c>error</c>, <c>error_description</c>): they look for
/// <c>error</c> in any error body, and a body without it reaches the app as "invalid response".
/// </summary>
public static class OAuthServerErrors
{
    private static readonly string[] JsonEndpoints = [ConnectPaths.Token, ConnectPaths.Introspect, ConnectPaths.Revoke, ConnectPaths.UserInfo];

    public static void AddToProblem(ProblemDetailsContext context)
    {
        var path = context.HttpContext.Request.Path;
        if (context.ProblemDetails.Status is >= 500
            && JsonEndpoints.Any(endpoint => path.StartsWithSegments(endpoint, StringComparison.OrdinalIgnoreCase)))
        {
            context.ProblemDetails.Extensions["error"] = "server_error";
            context.ProblemDetails.Extensions["error_description"] = "The server could not complete the request; try again later.";
        }
    }
}
