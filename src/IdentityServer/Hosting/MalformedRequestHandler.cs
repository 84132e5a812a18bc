using Microsoft.AspNetCore.Diagnostics;

namespace IdentityServer.Hosting;

/// <summary>
/// A body the framework cannot parse (invalid form encoding, NUL characters, oversized values) is the client's
/// fault: answer 400 — OAuth-shaped on protocol endpoints, problem details elsewhere — instead of 500.
/// </summary>
public static class MalformedRequests
{
    /// <summary>
    /// A NUL character in the query string is never meaningful and PostgreSQL cannot even store or compare one, so
    /// it is refused before it reaches a lookup. (Form bodies with NUL already fail to parse.)
    /// </summary>
    public static IApplicationBuilder UseRejectNulCharacters(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            if (context.Request.QueryString.HasValue
                && context.Request.QueryString.Value!.Contains("%00", StringComparison.Ordinal)
                && context.Request.Query.Any(p => p.Key.Contains('\0', StringComparison.Ordinal) || p.Value.Any(v => v?.Contains('\0', StringComparison.Ordinal) == true)))
            {
                throw new BadHttpRequestException("The query string contains a NUL character.");
            }

            return next(context);
        });
}

internal sealed partial class MalformedRequestHandler(IProblemDetailsService problems, ILogger<MalformedRequestHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not (InvalidDataException or BadHttpRequestException) || context.Response.HasStarted)
        {
            return false;
        }

        LogMalformed(logger, context.Request.Method, context.Request.Path, exception.GetType().Name);
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        if (context.Request.Path.StartsWithSegments("/connect"))
        {
            await context.Response.WriteAsJsonAsync(new Dictionary<string, string>
            {
                ["error"] = "invalid_request",
                ["error_description"] = "The request is malformed.",
            }, cancellationToken);
            return true;
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = StatusCodes.Status400BadRequest, Title = "The request is malformed." },
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Malformed {Method} {Path} refused ({Kind}).")]
    private static partial void LogMalformed(ILogger logger, string method, string path, string kind);
}
