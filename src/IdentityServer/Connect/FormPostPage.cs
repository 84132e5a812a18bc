using System.Collections.Immutable;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// The page that carries an authorization answer to the app with <c>response_mode=form_post</c> (ASP.NET Core's
/// OpenID Connect handler asks for it by default). OpenIddict's own is an unstyled page with an inline script, so it
/// could not have the pages' Content-Security-Policy; this one has the site's look, that policy, and its script from
/// this server. The form and what it posts are the same: every response parameter, to the registered redirect URI.
/// </summary>
internal sealed class FormPostPage : IOpenIddictServerHandler<ApplyAuthorizationResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyAuthorizationResponseContext>()
            .UseSingletonHandler<FormPostPage>()
            .SetOrder(OpenIddictServerAspNetCoreHandlers.Authentication.ProcessFormPostResponse.Descriptor.Order - 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ApplyAuthorizationResponseContext context)
    {
        if (context.ResponseMode != ResponseModes.FormPost
            || string.IsNullOrEmpty(context.RedirectUri)
            || context.Transaction.GetHttpRequest() is not { } request)
        {
            return;
        }

        var html = HtmlEncoder.Default;
        var fields = new StringBuilder();
        foreach (var (name, parameter) in context.Response.GetParameters())
        {
            // Several values under one name are allowed (OpenIddict posts them all, as token exchange drafts use).
            foreach (var value in (ImmutableArray<string?>?) parameter ?? [])
            {
                fields.Append($"""
                                <input type="hidden" name="{html.Encode(name)}" value="{html.Encode(value ?? string.Empty)}" />

                    """);
            }
        }

        var response = request.HttpContext.Response;
        response.Headers.Pragma = "no-cache";
        response.Headers.Expires = "-1";
        await Hosting.PlainPage.WriteAsync(response, StatusCodes.Status200OK, "Returning to the app", $$"""
                    <h1>Returning to the app</h1>
                    <form method="post" action="{{html.Encode(context.RedirectUri)}}" id="form-post">
            {{fields}}            <p class="muted">If nothing happens, continue by hand.</p>
                        <div class="actions"><button type="submit" id="continue" class="primary">Continue to the app</button></div>
                    </form>
                    <script src="{{html.Encode(request.PathBase + "/js/form-post.js")}}"></script>
            """, context.CancellationToken);
        context.HandleRequest();
    }
}
