using IdentityServer.Persistence;
using IdentityServer.Users;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>Answers with the claims the access token's scopes allow, read fresh from the user store.</summary>
internal static class UserInfoEndpoint
{
    public static void MapUserInfoEndpoint(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapMethods(ConnectPaths.UserInfo, [HttpMethods.Get, HttpMethods.Post], GetAsync).ExcludeFromDescription();

    private static async Task<IResult> GetAsync(HttpContext context, ApplicationDbContext db, CancellationToken cancellationToken)
    {
        var principal = (await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
        if (principal is not null && !principal.HasScope(Scopes.OpenId))
        {
            // OpenID Connect Core 5.3: userinfo is for tokens of OpenID Connect requests; an API-only token is not one.
            return Results.Forbid(
                new AuthenticationProperties(new Dictionary<string, string?>
                {
                    [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.InsufficientScope,
                    [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = "The access token was not granted the openid scope.",
                }),
                [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }

        var subject = principal?.GetClaim(Claims.Subject);
        var user = subject is null ? null : await db.FindUserAsync(subject, cancellationToken);
        if (principal is null || user is not { Enabled: true })
        {
            return Results.Challenge(
                new AuthenticationProperties(new Dictionary<string, string?>
                {
                    [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.InvalidToken,
                    [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = "The access token does not belong to an active user.",
                }),
                [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }

        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            [Claims.Subject] = user.Id,
        };

        if (principal.HasScope(Scopes.Profile))
        {
            claims[Claims.Name] = user.UserName!;
            claims[Claims.PreferredUsername] = user.UserName!;
        }

        if (principal.HasScope(Scopes.Email) && user.Email is not null)
        {
            claims[Claims.Email] = user.Email;
            claims[Claims.EmailVerified] = user.EmailConfirmed;
        }

        if (principal.HasScope(Scopes.Roles))
        {
            // Shaped as in the tokens (one role a string, several an array, none no claim), so that a client merging
            // userinfo into the ID token's claims sees one type.
            switch (await db.RoleNamesAsync(user.Id, cancellationToken))
            {
                case [var role]:
                    claims[Claims.Role] = role;
                    break;
                case { Count: > 1 } roles:
                    claims[Claims.Role] = roles;
                    break;
            }
        }

        return Results.Ok(claims);
    }
    /// <summary>
    /// Reads a userinfo request as OpenIddict does, except that a POST whose body is not a form is read as carrying no
    /// parameters instead of being refused: OpenID Connect Core 5.3.1 allows POST, RFC 6750 2.1 the token in the header
    /// whatever the body, and <c>HttpClient.PostAsync(url, null)</c> sends no Content-Type at all.
    /// </summary>
    internal sealed class ExtractRequest : IOpenIddictServerHandler<OpenIddictServerEvents.ExtractUserInfoRequestContext>
    {
        private static readonly OpenIddictServerAspNetCoreHandlers.ExtractGetOrPostRequest<OpenIddictServerEvents.ExtractUserInfoRequestContext> BuiltIn = new();

        public static OpenIddictServerHandlerDescriptor Replaced => OpenIddictServerAspNetCoreHandlers
            .ExtractGetOrPostRequest<OpenIddictServerEvents.ExtractUserInfoRequestContext>.Descriptor;

        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<OpenIddictServerEvents.ExtractUserInfoRequestContext>()
                .AddFilter<OpenIddictServerAspNetCoreHandlerFilters.RequireHttpRequest>()
                .UseSingletonHandler<ExtractRequest>()
                .SetOrder(Replaced.Order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(OpenIddictServerEvents.ExtractUserInfoRequestContext context)
        {
            var http = context.Transaction.GetHttpRequest()!;
            // A form (which OpenIddict reads, or refuses if multipart) goes the built-in way, so that no later handler
            // reading the form (WellFormedRequests) ever meets one nobody has read: it would block a thread on it.
            if (HttpMethods.IsPost(http.Method) && !http.HasFormContentType)
            {
                context.Transaction.Request = new OpenIddictRequest();
                return ValueTask.CompletedTask;
            }

            return BuiltIn.HandleAsync(context);
        }
    }
}
