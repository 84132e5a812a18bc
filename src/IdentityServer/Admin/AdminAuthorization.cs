using Microsoft.AspNetCore.Authentication;
using Microsoft.Net.Http.Headers;
using OpenIddict.Abstractions;
using OpenIddict.Validation.AspNetCore;
using IdentityServer.Connect;

namespace IdentityServer.Admin;

/// <summary>Marks the endpoints that <see cref="AdminAuthorization"/> guards.</summary>
internal sealed class AdminApiEndpoint
{
    public const string Path = "/admin";

    public static readonly AdminApiEndpoint Instance = new();
}

/// <summary>
/// Every admin call needs a bearer access token from this server with scope <c>admin</c>:
/// 401 without a valid token, 403 without the scope, both as problem details.
/// </summary>
/// <remarks>
/// A middleware rather than an endpoint filter: filters run after parameter binding, so a malformed body would
/// answer 400 to a caller without a token, and a bound <see cref="System.Security.Claims.ClaimsPrincipal"/> would
/// still be the anonymous user, leaving every audit row without its actor.
/// </remarks>
internal sealed class AdminAuthorization(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext http)
    {
        // Under /admin, routing answers a wrong method (405), content type (415) or path (404) with endpoints of its own:
        // those too need an admin's token first, or anyone could map the API's routes (Keycloak authenticates first).
        if (http.GetEndpoint()?.Metadata.GetMetadata<AdminApiEndpoint>() is null && !http.Request.Path.StartsWithSegments(AdminApiEndpoint.Path))
        {
            await next(http);
            return;
        }

        var result = await http.AuthenticateAsync(OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme);
        if (!result.Succeeded || result.Principal is null || !await ClientMayStillUseTheAdminScopeAsync(http, result.Principal))
        {
            // RFC 6750 3.1: a token that was sent but is not good is invalid_token; a request without one gets no error code.
            http.Response.Headers[HeaderNames.WWWAuthenticate] =
                http.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? "Bearer error=\"invalid_token\", error_description=\"The access token is invalid, expired or revoked.\""
                    : "Bearer";
            await TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized,
                title: "Unauthorized.", detail: "A valid bearer access token is required.").ExecuteAsync(http);
            return;
        }

        if (!result.Principal.HasScope(StandardScopes.Admin))
        {
            http.Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer error=\"insufficient_scope\", scope=\"admin\"";
            await TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden,
                title: "Forbidden.", detail: "The access token lacks the 'admin' scope.").ExecuteAsync(http);
            return;
        }

        http.User = result.Principal;
        await next(http);
    }

    /// <summary>
    /// A token is good here only while the client it was issued to may still ask for the admin scope: withdrawing the
    /// scope from a client (or deleting it) ends the admin access of every token it holds, users' included, at once.
    /// A token without the scope passes, and is answered 403 after this. One cached client lookup per admin call.
    /// </summary>
    private static async Task<bool> ClientMayStillUseTheAdminScopeAsync(HttpContext http, System.Security.Claims.ClaimsPrincipal principal)
    {
        if (!principal.HasScope(StandardScopes.Admin))
        {
            return true;
        }

        var applications = http.RequestServices.GetRequiredService<IOpenIddictApplicationManager>();
        return principal.GetClaim(OpenIddictConstants.Claims.ClientId) is { Length: > 0 } clientId
            && await applications.FindByClientIdAsync(clientId, http.RequestAborted) is { } application
            && await StandardScopes.IsPermittedAsync(applications, application, StandardScopes.Admin, http.RequestAborted);
    }
}
