using System.Text.Encodings.Web;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// An authorization or end session request refused where its client cannot be told (unknown client, unregistered
/// redirect or post-logout URI) is shown to the person at the browser as a page, as Keycloak and Duende do, instead of
/// OpenIddict's plain-text lines. Still a 400, never a redirect. So is an approval on the device verification page that
/// OpenIddict refuses (another tab approved the same code a moment before).
/// </summary>
internal static class ErrorPages
{
    public static IEnumerable<OpenIddictServerHandlerDescriptor> Descriptors =>
    [
        Page<ApplyAuthorizationResponseContext>.Descriptor(context => context.RedirectUri, ToTheAppsDevelopers),
        Page<ApplyEndSessionResponseContext>.Descriptor(context => context.PostLogoutRedirectUri, ToTheAppsDevelopers),
        Page<ApplyEndUserVerificationResponseContext>.Descriptor(_ => null, """
            <p class="muted">Check your device: it may be signed in already. If not, start again there and
                <a href="{1}">enter the new code</a>.</p>
            """),
    ];

    private const string ToTheAppsDevelopers = """
        <p class="muted">The app that sent you here is not set up for this server. Go back to the app and
            tell its developers: <code id="error">{0}</code></p>
        """;

    /// <param name="nextSteps">HTML after the description; <c>{0}</c> is the (encoded) error code, <c>{1}</c> the
    /// verification page's address.</param>
    internal sealed class Page<TContext>(Func<TContext, string?> redirectUri, string nextSteps) : IOpenIddictServerHandler<TContext>
        where TContext : BaseRequestContext
    {
        public static OpenIddictServerHandlerDescriptor Descriptor(Func<TContext, string?> redirectUri, string nextSteps) =>
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .UseSingletonHandler(new Page<TContext>(redirectUri, nextSteps))
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

            var html = HtmlEncoder.Default;
            await Hosting.PlainPage.WriteAsync(request.HttpContext.Response, StatusCodes.Status400BadRequest, "Request refused", $$"""
                        <h1>This request cannot be completed</h1>
                        <p class="form-error" id="error-description" role="alert">{{html.Encode(answer.ErrorDescription ?? error)}}</p>
                        {{string.Format(System.Globalization.CultureInfo.InvariantCulture, nextSteps, html.Encode(error),
                            html.Encode(request.PathBase + ConnectPaths.Verify))}}
            """, context.CancellationToken);
            context.HandleRequest();
        }
    }
}
