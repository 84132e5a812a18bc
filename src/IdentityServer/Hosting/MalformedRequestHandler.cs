using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace IdentityServer.Hosting;

/// <summary>
/// A body the framework cannot parse (invalid form encoding, NUL characters, oversized values) is the client's
/// fault: answer 400 (413 for a body over the limit) — OAuth-shaped on protocol endpoints, problem details
/// elsewhere — instead of 500.
/// </summary>
public static class MalformedRequests
{
    /// <summary>Only a request with a body has it read, and its Content-Type matters.</summary>
    private static bool CarriesABody(HttpRequest request) =>
        !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)
            || HttpMethods.IsDelete(request.Method) || HttpMethods.IsTrace(request.Method));

    /// <summary>
    /// A charset that makes the framework's readers throw (a 500 for any caller), judged as each reader judges it: the
    /// form reader falls back to UTF-8 for a charset it does not know and throws only on one .NET refuses (UTF-7); the
    /// JSON reader throws on any charset but UTF-8 that it cannot find.
    /// </summary>
    private static bool HasUnreadableCharset(HttpRequest request)
    {
        if (request.ContentType is not { } contentType || !contentType.Contains("charset", StringComparison.OrdinalIgnoreCase)
            || !MediaTypeHeaderValue.TryParse(contentType, out var parsed) || StringSegment.IsNullOrEmpty(parsed.Charset))
        {
            return false;
        }

        var charset = parsed.Charset.ToString();
        if (request.HasFormContentType)
        {
            return Refused(charset) is NotSupportedException;
        }

        return request.HasJsonContentType() && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && Refused(charset) is not null;
    }

    private static Exception? Refused(string charset)
    {
        try
        {
            _ = System.Text.Encoding.GetEncoding(charset);
            return null;
        }
        catch (Exception exception) when (exception is ArgumentException or NotSupportedException)
        {
            return exception;
        }
    }

    private static bool NamesAForm(string? contentType) =>
        contentType?.TrimStart() is { } type
        && (type.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase)
            || type.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Refuses, before anything reads them, a NUL character in the query string (never meaningful, and PostgreSQL cannot
    /// even store or compare one; form bodies with NUL already fail to parse) and a Content-Type that names a form but
    /// does not parse, or comes twice (OpenIddict reads such a body as a form, and the framework then throws).
    /// </summary>
    public static IApplicationBuilder UseRejectMalformedRequests(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            var request = context.Request;
            if (request.QueryString.HasValue
                && request.QueryString.Value!.Contains("%00", StringComparison.Ordinal)
                && request.Query.Any(p => p.Key.Contains('\0', StringComparison.Ordinal) || p.Value.Any(v => v?.Contains('\0', StringComparison.Ordinal) == true)))
            {
                throw new RefusedBeforeTheEndpoint("query", "The query string contains a NUL character.");
            }

            if (!CarriesABody(request))
            {
                return next(context);
            }

            if (request.Headers.ContentType.Count > 1
                || (NamesAForm(request.ContentType) && !request.HasFormContentType))
            {
                throw new RefusedBeforeTheEndpoint("Content-Type", "The Content-Type header is malformed.");
            }

            if (HasUnreadableCharset(request))
            {
                throw new RefusedBeforeTheEndpoint("Content-Type", "The Content-Type names a charset this server cannot read: send UTF-8.");
            }

            return next(context);
        });
}

/// <summary>A request refused by <see cref="MalformedRequests.UseRejectMalformedRequests"/>, naming the part at fault.</summary>
internal sealed class RefusedBeforeTheEndpoint(string part, string message) : BadHttpRequestException(message)
{
    public string Part { get; } = part;
}

internal sealed partial class MalformedRequestHandler(IProblemDetailsService problems, ILogger<MalformedRequestHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (CallerLeft(context, exception))
        {
            return LetGo(context);
        }

        if (exception is not (InvalidDataException or BadHttpRequestException) || context.Response.HasStarted)
        {
            return false;
        }

        LogMalformed(logger, context.Request.Method, context.Request.Path, exception.GetType().Name);
        try
        {
            return await AnswerAsync(context, exception, cancellationToken);
        }
        catch (Exception failed) when (failed is OperationCanceledException or IOException)
        {
            // A body cut short because the caller closed the connection: the answer has nowhere to go either.
            return LetGo(context);
        }
    }

    /// <summary>
    /// Nobody is left to answer and nothing failed here: not an Error, and no answer written into a closed connection.
    /// Aborted, so that Kestrel does not try to read the rest of a body that will never come.
    /// </summary>
    private bool LetGo(HttpContext context)
    {
        LogCallerLeft(logger, context.Request.Method, context.Request.Path);
        context.Abort();
        return true;
    }

    private async ValueTask<bool> AnswerAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        // Kestrel says what was wrong: 413 for a body over the limit, 400 for the rest.
        var status = exception is BadHttpRequestException { StatusCode: var code } ? code : StatusCodes.Status400BadRequest;
        if (exception is BadHttpRequestException and not RefusedBeforeTheEndpoint)
        {
            // Where the body stopped making sense, so does the connection: closed after this answer, not read on.
            context.Response.Headers.Connection = "close";
        }
        if (context.Request.Path.StartsWithSegments("/connect"))
        {
            context.Response.StatusCode = status;
            await context.Response.WriteAsJsonAsync(new Dictionary<string, string>
            {
                ["error"] = "invalid_request",
                ["error_description"] = status == StatusCodes.Status413PayloadTooLarge ? "The request is too large." : "The request is malformed.",
            }, cancellationToken);
            return true;
        }
        if (status == StatusCodes.Status400BadRequest && context.Request.Path.StartsWithSegments(Admin.AdminApiEndpoint.Path))
        {
            // Admin clients get the same shape as for any invalid input: errors keyed by the field at fault.
            await TypedResults.ValidationProblem(exception is RefusedBeforeTheEndpoint refused
                ? new Dictionary<string, string[]> { [refused.Part] = [refused.Message] }
                : new Dictionary<string, string[]> { [FieldOf(exception)] = ["The request body is not valid JSON for this resource."] })
                .ExecuteAsync(context);
            return true;
        }

        context.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            // 413 and 415 say it in their own words; the framework's title for the status fills in.
            ProblemDetails = { Status = status, Title = status == StatusCodes.Status400BadRequest ? "The request is malformed." : null },
        });
    }

    /// <summary>A reset connection, or a body read cut short or cancelled because the caller hung up.</summary>
    private static bool CallerLeft(HttpContext context, Exception exception) =>
        exception is Microsoft.AspNetCore.Connections.ConnectionResetException
        || (context.RequestAborted.IsCancellationRequested && exception is IOException or OperationCanceledException or BadHttpRequestException);

    /// <summary>The top-level JSON property a binding error points at ($.redirectUris[0] → redirectUris), else "body".</summary>
    private static string FieldOf(Exception exception)
    {
        for (var inner = exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Text.Json.JsonException { Path: { Length: > 2 } path } && path.StartsWith("$.", StringComparison.Ordinal))
            {
                var name = path[2..];
                var end = name.IndexOfAny(['.', '[']);
                return end > 0 ? name[..end] : name;
            }
        }

        return "body";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Path}: the caller hung up before the request was read or answered.")]
    private static partial void LogCallerLeft(ILogger logger, string method, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Malformed {Method} {Path} refused ({Kind}).")]
    private static partial void LogMalformed(ILogger logger, string method, string path, string kind);
}
