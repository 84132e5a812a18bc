using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;

namespace ResourceApi;

/// <summary>Where tokens come from and whom they must be for: the "IdentityServer" configuration section.</summary>
public sealed class ApiAuthenticationOptions
{
    public const string SectionName = "IdentityServer";

    /// <summary>The issuer URL of the authorization server; discovery and the JWKS are read from it.</summary>
    [Required]
    public Uri? Authority { get; set; }

    /// <summary>The resource the access token must be issued for (its <c>aud</c>): the scope's resource on the server.</summary>
    [Required]
    public string Audience { get; set; } = string.Empty;

    /// <summary>The scope a caller must have been granted to use this API.</summary>
    [Required]
    public string Scope { get; set; } = "api1";

    /// <summary>Tolerance for clock differences when checking <c>exp</c> and <c>nbf</c>.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);
}

public static class ApiAuthentication
{
    public const string ScopePolicy = "scope";

    /// <summary>
    /// JWT bearer validation against the authority's discovery document: signature from its JWKS (fetched once and
    /// cached by the handler, never a call per request), issuer, audience, lifetime and the RFC 9068 <c>at+jwt</c> type.
    /// </summary>
    public static IHostApplicationBuilder AddApiAuthentication(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ApiAuthenticationOptions>()
            .Bind(builder.Configuration.GetSection(ApiAuthenticationOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<ApiAuthenticationOptions>>((jwt, settings) =>
            {
                var api = settings.Value;
                jwt.Authority = api.Authority!.ToString();
                jwt.Audience = api.Audience;
                // Plain-HTTP discovery is tolerated only when the authority is on this machine.
                jwt.RequireHttpsMetadata = !IsLoopback(api.Authority!);
                jwt.MapInboundClaims = false;
                jwt.TokenValidationParameters.ValidTypes = ["at+jwt"];
                jwt.TokenValidationParameters.NameClaimType = "sub";
                jwt.TokenValidationParameters.ClockSkew = api.ClockSkew;
            });

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ScopePolicy, policy => policy
                .AddAuthenticationSchemes(JwtBearerDefaults.AuthenticationScheme)
                .RequireAuthenticatedUser()
                .AddRequirements(new ScopeRequirement()));
        builder.Services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationHandler, ScopeHandler>();
        return builder;
    }

    /// <summary>The scopes granted to the token: one space-separated <c>scope</c> claim (RFC 9068), or several.</summary>
    public static IReadOnlySet<string> Scopes(ClaimsPrincipal user) =>
        user.FindAll("scope")
            .SelectMany(claim => claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToHashSet(StringComparer.Ordinal);

    public static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    private sealed class ScopeRequirement : Microsoft.AspNetCore.Authorization.IAuthorizationRequirement;

    private sealed class ScopeHandler(IOptions<ApiAuthenticationOptions> options)
        : Microsoft.AspNetCore.Authorization.AuthorizationHandler<ScopeRequirement>
    {
        protected override Task HandleRequirementAsync(
            Microsoft.AspNetCore.Authorization.AuthorizationHandlerContext context, ScopeRequirement requirement)
        {
            if (Scopes(context.User).Contains(options.Value.Scope))
            {
                context.Succeed(requirement);
            }

            return Task.CompletedTask;
        }
    }
}
