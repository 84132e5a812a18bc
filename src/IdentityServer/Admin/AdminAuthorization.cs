using Microsoft.AspNetCore.Authentication;
using Microsoft.Net.Http.Headers;
using OpenIddict.Abstractions;
using OpenIddict.Validation.AspNetCore;
using IdentityServer.Connect;

namespace IdentityServer.Admin;

/// <summary>
/// Every admin call needs a bearer access token from this server with scope <c>admin</c>:
/// 401 without a valid token, 403 without the scope, both as problem details.
/// </summary>
internal sealed class AdminAuthorization : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var result = await http.AuthenticateAsync(OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme);
        if (!result.Succeeded || result.Principal is null)
        {
            http.Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer";
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized,
                title: "Unauthorized.", detail: "A valid bearer access token is required.");
        }

        if (!result.Principal.HasScope(StandardScopes.Admin))
        {
            http.Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer error=\"insufficient_scope\", scope=\"admin\"";
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden,
                title: "Forbidden.", detail: "The access token lacks the 'admin' scope.");
        }

        http.User = result.Principal;
        return await next(context);
    }
}
