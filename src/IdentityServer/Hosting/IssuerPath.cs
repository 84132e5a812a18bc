using System.Text.Encodings.Web;
using IdentityServer.Connect;
using Microsoft.Extensions.Options;

namespace IdentityServer.Hosting;

/// <summary>
/// An issuer with a path (<c>https://example.com/id</c>, as Keycloak's realms have) is served under that path:
/// OpenID Connect Discovery looks for the issuer's path followed by <c>/.well-known/openid-configuration</c>, and the
/// endpoints, pages, redirects and cookies follow from ASP.NET Core's PathBase. A reverse proxy passes the path
/// through, or strips it and names it in <c>X-Forwarded-Prefix</c> (believed from trusted proxies only). Anything
/// outside the path gets 404, except the health probes, which kubelets and load balancers send to the root.
/// </summary>
public static class IssuerPath
{
    public static IApplicationBuilder UseIssuerPath(this IApplicationBuilder app)
    {
        var issuer = app.ApplicationServices.GetRequiredService<IOptions<ConnectOptions>>().Value.Issuer;
        var path = Of(issuer);
        if (!path.HasValue)
        {
            return app;
        }

        var metadataAtTheRoot = new PathString(ConnectPaths.AuthorizationServerMetadata).Add(path);
        return app.Use((context, next) =>
        {
            var request = context.Request;
            if (TransportSecurity.IsProbe(request))
            {
                return next(context);
            }

            // A trusted proxy that stripped the path has said so in X-Forwarded-Prefix (with a trailing slash or not).
            if (request.PathBase.HasValue && request.PathBase.Value!.TrimEnd('/') == path.Value)
            {
                request.PathBase = path;
                return next(context);
            }

            if (!request.PathBase.HasValue && request.Path.StartsWithSegments(path, StringComparison.Ordinal, out var remaining))
            {
                request.PathBase = path;
                request.Path = remaining;
                return next(context);
            }

            // RFC 8414 3: the metadata of https://example.com/id is at https://example.com/.well-known/oauth-authorization-server/id
            // (with the issuer's trailing slash, if it is written with one).
            if (!request.PathBase.HasValue
                && (request.Path.Equals(metadataAtTheRoot, StringComparison.Ordinal) || request.Path.Equals(metadataAtTheRoot + "/", StringComparison.Ordinal)))
            {
                request.PathBase = path;
                request.Path = ConnectPaths.AuthorizationServerMetadata;
                return next(context);
            }

            return NotHereAsync(context, path);
        });
    }

    // Not this issuer's: no page and no cookie for another path, but a word for whoever typed the address.
    private static Task NotHereAsync(HttpContext context, PathString path)
    {
        if (HttpMethods.IsGet(context.Request.Method) && StatusCodePages.AsksForHtml(context.Request))
        {
            // The page's stylesheet and home link are the issuer's.
            context.Request.PathBase = path;
            var under = HtmlEncoder.Default.Encode(path + "/");
            return PlainPage.WriteAsync(context.Response, StatusCodes.Status404NotFound, "Page not found", $"""
                        <h1>Page not found</h1>
                        <p class="muted" id="not-found">This server answers under <a href="{under}">{under}</a>.</p>
            """, context.RequestAborted);
        }

        return Results.Problem(
            statusCode: StatusCodes.Status404NotFound,
            title: "Not found.",
            detail: $"This server answers under {path}.").ExecuteAsync(context);
    }

    /// <summary>The issuer's path without its trailing slash; empty for an issuer that is an origin (or none).</summary>
    public static PathString Of(Uri? issuer) =>
        issuer is null || issuer.AbsolutePath == "/" ? PathString.Empty : new PathString(issuer.AbsolutePath.TrimEnd('/'));
}
