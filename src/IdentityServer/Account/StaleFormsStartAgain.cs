using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.Core.Infrastructure;

namespace IdentityServer.Account;

/// <summary>
/// A login or registration form whose anti-forgery token no longer fits (left open in a second tab while the first
/// signed in, or kept past its cookie) was answered with a bare 400. The form is shown again instead, as the page it
/// came from: nothing was done with the stale post, and a forged cross-site post gains nothing by it either.
/// </summary>
internal sealed class StaleFormsStartAgain : IAsyncAlwaysRunResultFilter
{
    public Task OnResultExecutionAsync(ResultExecutingContext context, ResultExecutionDelegate next)
    {
        if (context.Result is IAntiforgeryValidationFailedResult)
        {
            var request = context.HttpContext.Request;
            context.Result = new LocalRedirectResult(request.PathBase + request.Path + request.QueryString);
        }

        return next();
    }
}
