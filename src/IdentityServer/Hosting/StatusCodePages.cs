using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace IdentityServer.Hosting;

/// <summary>
/// Bodies for answers that have none: problem details for programs, as everywhere, and a page for a browser that
/// asked for a page that does not exist (as Keycloak and Duende show one), instead of JSON on the screen.
/// </summary>
internal static class StatusCodePages
{
    public static async Task WriteAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        if (http.Response.StatusCode == StatusCodes.Status404NotFound && HttpMethods.IsGet(http.Request.Method) && AsksForHtml(http.Request))
        {
            await PlainPage.WriteAsync(http.Response, StatusCodes.Status404NotFound, "Page not found", """
                        <h1>Page not found</h1>
                        <p class="muted" id="not-found">There is no page at this address. Go back to the app that sent you here and start again.</p>
            """, http.RequestAborted);
            return;
        }

        // As the framework's own status code pages: problem details, or a line of text for a client that takes neither.
        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        var status = http.Response.StatusCode;
        if (!await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = { Status = status } }))
        {
            http.Response.ContentType = "text/plain";
            await http.Response.WriteAsync($"Status Code: {status}; {ReasonPhrases.GetReasonPhrase(status)}", http.RequestAborted);
        }
    }

    /// <summary>Browsers name text/html in Accept when they navigate; fetch and API clients send */* or JSON.</summary>
    internal static bool AsksForHtml(HttpRequest request) =>
        request.GetTypedHeaders().Accept.Any(accept => accept.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase));
}
