using System.Text.Encodings.Web;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// An authorization or end session request refused where its client cannot be told (unknown client, unregistered
/// redirect or post-logout URI) is shown to the person at the browser as a page, as Keycloak and Duende do, instead of
/// OpenIddict's plain-text lines. Still a 400, never a redirect.
/// </summary>
internal static class ErrorPages
{
    public static IEnumerable<OpenIddictServerHandlerDescriptor> Descriptors =>
    [
        Page<ApplyAuthorizationResponseContext>.Descriptor(context => context.RedirectUri),
        Page<ApplyEndSessionResponseContext>.Descriptor(context => context.PostLogoutRedirectUri),
    ];

    internal sealed class Page<TContext>(Func<TContext, string?> redirectUri) : IOpenIddictServerHandler<TContext>
        where TContext : BaseRequestContext
    {
        public static OpenIddictServerHandlerDescriptor Descriptor(Func<TContext, string?> redirectUri) =>
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .UseSingletonHandler(new Page<TContext>(redirectUri))
                .SetOrder(OpenIddictServerAspNetCoreHandlers.ProcessLocalErrorResponse<TContext>.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(TContext context)
        {
            if (context.Transaction.Response is not { Error: { Length: > 0 } error } answer
                || !string.IsNullOrEmpty(redirectUri(context))
                || context.Transaction.GetHttpRequest() is not { } request)
            {
                return;
            }

            var response = request.HttpContext.Response;
            response.StatusCode = StatusCodes.Status400BadRequest;
            response.ContentType = "text/html; charset=utf-8";
            response.Headers.CacheControl = "no-store";
            response.Headers.ContentSecurityPolicy = Hosting.SecurityHeaders.PageContentSecurityPolicy;
            var html = HtmlEncoder.Default;
            await response.WriteAsync($$"""
                <!DOCTYPE html>
                <html lang="en">
                <head>
                    <meta charset="utf-8" />
                    <meta name="viewport" content="width=device-width, initial-scale=1" />
                    <meta name="robots" content="noindex" />
                    <title>Request refused · IdentityServer</title>
                    <link rel="icon" href="data:," />
                    <link rel="stylesheet" href="{{html.Encode(request.PathBase + "/css/site.css")}}" />
                </head>
                <body>
                    <main class="card" id="main">
                        <h1>This request cannot be completed</h1>
                        <p class="form-error" id="error-description" role="alert">{{html.Encode(answer.ErrorDescription ?? error)}}</p>
                        <p class="muted">The app that sent you here is not set up for this server. Go back to the app and
                            tell its developers: <code id="error">{{html.Encode(error)}}</code></p>
                    </main>
                </body>
                </html>
                """, context.CancellationToken);
            context.HandleRequest();
        }
    }
}
