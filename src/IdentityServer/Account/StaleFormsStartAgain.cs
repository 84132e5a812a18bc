using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Core.Infrastructure;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.Routing;

namespace IdentityServer.Account;

/// <summary>
/// A login or registration form whose anti-forgery token no longer fits was answered with a bare 400. Nothing is done
/// with such a post (a forged cross-site post gains nothing by it either); the browser is sent on instead. Usually
/// another tab signed in meanwhile (the token was made for the anonymous visitor): then the form's errand is done and
/// the browser carries on where the form was going, as the other tab did. Otherwise (its cookie expired or was
/// cleared) the page is shown again, saying why, as Keycloak does.
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
        if (session.Succeeded)
        {
            var url = context.HttpContext.RequestServices.GetRequiredService<IUrlHelperFactory>().GetUrlHelper(context);
            return new LocalRedirectResult(ReturnUrls.Local(url, request.Query["ReturnUrl"].Count == 1 ? request.Query["ReturnUrl"][0] : null));
        }

        var query = request.Query.ContainsKey(ExpiredParameter) ? request.QueryString : request.QueryString.Add(ExpiredParameter, "true");
        return new LocalRedirectResult(request.PathBase + request.Path + query);
    }
}
