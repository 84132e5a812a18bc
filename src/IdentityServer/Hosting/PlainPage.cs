using System.Text.Encodings.Web;

namespace IdentityServer.Hosting;

/// <summary>
/// A page written without Razor, for answers made where no view runs (inside OpenIddict's pipeline, in the status
/// code pages): the layout's head and frame, so it looks like the server's other pages.
/// </summary>
internal static class PlainPage
{
    /// <param name="title">Plain text; encoded here.</param>
    /// <param name="bodyHtml">Markup inside the page's card; the caller encodes what it puts in.</param>
    public static Task WriteAsync(HttpResponse response, int statusCode, string title, string bodyHtml, CancellationToken cancellationToken)
    {
        response.StatusCode = statusCode;
        response.ContentType = "text/html; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        response.Headers.ContentSecurityPolicy = SecurityHeaders.PageContentSecurityPolicy;
        var html = HtmlEncoder.Default;
        return response.WriteAsync($$"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="robots" content="noindex" />
                <title>{{html.Encode(title)}} · IdentityServer</title>
                <link rel="icon" href="data:," />
                <link rel="stylesheet" href="{{html.Encode(response.HttpContext.Request.PathBase + "/css/site.css")}}" />
            </head>
            <body>
                <header class="brand">
                    <a href="{{html.Encode(response.HttpContext.Request.PathBase + "/")}}"><span class="brand-mark" aria-hidden="true"></span>IdentityServer</a>
                </header>
                <main class="card" id="main">
            {{bodyHtml}}
                </main>
            </body>
            </html>
            """, cancellationToken);
    }
}
