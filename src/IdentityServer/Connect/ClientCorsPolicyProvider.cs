using System.Text.Json;
using IdentityServer.Admin;
using IdentityServer.Persistence;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Net.Http.Headers;
using OpenIddict.EntityFrameworkCore.Models;

namespace IdentityServer.Connect;

/// <summary>
/// CORS only where a client asks for it: browser apps may call the endpoints a single-page app needs (discovery,
/// JWKS, token, userinfo, revocation, introspection) from an origin that some client lists in
/// <c>allowedCorsOrigins</c>. Never the authorization endpoint or the pages, which are full-page navigations.
/// </summary>
internal sealed class ClientCorsPolicyProvider(ApplicationDbContext db) : ICorsPolicyProvider
{
    private static readonly PathString[] CrossOriginPaths =
    [
        "/.well-known/openid-configuration",
        "/.well-known/jwks",
        ConnectPaths.Token,
        ConnectPaths.UserInfo,
        ConnectPaths.Revoke,
        ConnectPaths.Introspect,
    ];

    public async Task<CorsPolicy?> GetPolicyAsync(HttpContext context, string? policyName)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length is 0 or > 512 || !CrossOriginPaths.Contains(context.Request.Path))
        {
            return null;
        }

        // The answer (allowed or not) is chosen per origin; ASP.NET Core says so only for policies naming several.
        context.Response.Headers.Append(HeaderNames.Vary, HeaderNames.Origin);

        if (!await IsAllowedAsync(origin.TrimEnd('/'), context.RequestAborted))
        {
            return null;
        }

        var policy = new CorsPolicyBuilder()
            .WithOrigins(origin)
            .WithMethods(HttpMethods.Get, HttpMethods.Post)
            .AllowAnyHeader()
            // A browser app reads why userinfo refused its token (RFC 6750 3: invalid_token, insufficient_scope).
            .WithExposedHeaders(HeaderNames.WWWAuthenticate)
            .SetPreflightMaxAge(TimeSpan.FromMinutes(10))
            .Build();
        return policy;
    }

    private async Task<bool> IsAllowedAsync(string origin, CancellationToken cancellationToken)
    {
        // A coarse text match narrows the clients in SQL; the exact comparison happens on the parsed list.
        var quoted = JsonSerializer.Serialize(origin);
        var candidates = await db.Set<OpenIddictEntityFrameworkCoreApplication>()
            .AsNoTracking()
            .Where(a => a.Properties != null && a.Properties.Contains(quoted))
            .Select(a => a.Properties!)
            .ToListAsync(cancellationToken);

        foreach (var properties in candidates)
        {
            using var document = JsonDocument.Parse(properties);
            if (document.RootElement.TryGetProperty(ClientsEndpoints.CorsOriginsProperty, out var origins)
                && origins.ValueKind == JsonValueKind.Array
                && origins.EnumerateArray().Any(o => string.Equals(o.GetString(), origin, StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        return false;
    }
}
