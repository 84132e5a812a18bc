using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.RazorPages;
using IdentityServer.Connect;

namespace IdentityServer.Hosting;

/// <summary>
/// Headers every response carries (no framing, no sniffing, no referrer leaking codes or state), plus a strict
/// Content-Security-Policy on the pages we render (Razor pages and <see cref="PlainPage"/>: error, not-found and
/// form_post pages); other answers (JSON, redirects) get only the frame-ancestors part.
/// </summary>
public static class SecurityHeaders
{
    internal const string PageContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

    private static readonly PathString[] PrivateAnswers = [Admin.AdminApiEndpoint.Path, ConnectPaths.UserInfo, ConnectPaths.Introspect];

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                var headers = context.Response.Headers;
                headers.XFrameOptions = "DENY";
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                if (!headers.ContainsKey("Content-Security-Policy"))
                {
                    headers.ContentSecurityPolicy = "frame-ancestors 'none'";
                }

                // Answers holding secrets or personal data are never kept by a cache or the browser: the admin API (a
                // client's secret is shown once), userinfo and introspection. Token responses already say so (OpenIddict).
                if (PrivateAnswers.Any(path => context.Request.Path.StartsWithSegments(path, StringComparison.OrdinalIgnoreCase)))
                {
                    headers.CacheControl = "no-store";
                }

                return Task.CompletedTask;
            });
            return next(context);
        });

    /// <summary>Adds the strict policy when a Razor page (login, registration, consent) renders itself.</summary>
    internal sealed class PageContentSecurityPolicyFilter : IAsyncPageFilter
    {
        public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

        public async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
        {
            var executed = await next();
            if (executed.Result is PageResult)
            {
                context.HttpContext.Response.Headers.ContentSecurityPolicy = PageContentSecurityPolicy;
                // What the anti-forgery token's form sets anyway: any other value is overwritten with a Warning per page.
                context.HttpContext.Response.Headers.CacheControl = "no-cache, no-store";
                context.HttpContext.Response.Headers.Pragma = "no-cache";
            }
        }
    }
}
