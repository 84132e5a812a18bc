using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Core.Infrastructure;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.Routing;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Account;

/// <summary>
/// A login or registration form whose anti-forgery token no longer fits was answered with a bare 400. Nothing is done
/// with such a post (a forged cross-site post gains nothing by it either); the browser is sent on instead. Usually
/// another tab signed in meanwhile (the token was made for the anonymous visitor): when that tab signed in the user
/// this form names, the form's errand is done and the browser carries on where it was going, as the other tab did.
/// Otherwise (another account signed in, or the form's cookie expired or was cleared) the page is shown again,
/// saying why, as Keycloak does: nobody is carried on as someone the form did not name.
/// </summary>
internal sealed class StaleFormsStartAgain : IAsyncAlwaysRunResultFilter
{
    public const string ExpiredParameter = "expired";

    public async Task OnResultExecutionAsync(ResultExecutingContext context, ResultExecutionDelegate next)
    {
        if (context.Result is IAntiforgeryValidationFailedResult)
        {
            context.Result = await StartAgainAsync(context);
        }

        await next();
    }

    private static async Task<IActionResult> StartAgainAsync(ActionContext context)
    {
        var request = context.HttpContext.Request;
        var session = await context.HttpContext.AuthenticateAsync(IdentityConstants.ApplicationScheme);
        if (session.Succeeded && NamesTheSignedInUser(request, session.Principal!))
        {
            var url = context.HttpContext.RequestServices.GetRequiredService<IUrlHelperFactory>().GetUrlHelper(context);
            return new LocalRedirectResult(ReturnUrls.Local(url, request.Query["ReturnUrl"].Count == 1 ? request.Query["ReturnUrl"][0] : null));
        }

        var query = request.Query.ContainsKey(ExpiredParameter) ? request.QueryString : request.QueryString.Add(ExpiredParameter, "true");
        return new LocalRedirectResult(request.PathBase + request.Path + query);
    }

    // The login form's Username (a username or an email) or the registration form's Input.Username. MVC has read the
    // form already, for the anti-forgery check.
    private static bool NamesTheSignedInUser(HttpRequest request, System.Security.Claims.ClaimsPrincipal signedIn)
    {
        if (!request.HasFormContentType)
        {
            return false;
        }

        var named = request.Form["Username"].ToString() is { Length: > 0 } login ? login : request.Form["Input.Username"].ToString();
        return named.Trim() is { Length: > 0 } name
            && (string.Equals(name, signedIn.FindFirst(Claims.Name)?.Value, StringComparison.OrdinalIgnoreCase)
                || string.Equals(name, signedIn.FindFirst(Claims.Email)?.Value, StringComparison.OrdinalIgnoreCase));
    }
}
