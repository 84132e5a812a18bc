using System.Net.Http.Headers;
using System.Text;
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
/// <c>allowedCorsOrigins</c>. A token, revocation or introspection request names its client, and its answer is
/// readable only from that client's own origins, as in Keycloak (a preflight names no client, so it passes for any
/// listed origin). Answers allow credentials, as Keycloak's do. Never the authorization endpoint or the pages, which are full-page navigations.
/// </summary>
internal sealed class ClientCorsPolicyProvider(ApplicationDbContext db) : ICorsPolicyProvider
{
    private static readonly PathString[] CrossOriginPaths =
    [
        ConnectPaths.OpenIdConfiguration,
        ConnectPaths.AuthorizationServerMetadata,
        ConnectPaths.Jwks,
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

        var clientId = HttpMethods.IsOptions(context.Request.Method) || !ClientNamingPaths.Contains(context.Request.Path)
            ? null
            : await CallerAsync(context.Request) ?? string.Empty;
        if (!await IsAllowedAsync(origin.TrimEnd('/'), clientId, context.RequestAborted))
        {
            return null;
        }

        var policy = new CorsPolicyBuilder()
            .WithOrigins(origin)
            .WithMethods(HttpMethods.Get, HttpMethods.Post)
            .AllowAnyHeader()
            // As Keycloak: keycloak-js sends its token requests with credentials, and a browser drops an answer to such a
            // request without this. The origin is one a client lists, and none of these endpoints reads a cookie.
            .AllowCredentials()
            // A browser app reads why userinfo refused its token (RFC 6750 3: invalid_token, insufficient_scope).
            .WithExposedHeaders(HeaderNames.WWWAuthenticate)
            .SetPreflightMaxAge(TimeSpan.FromMinutes(10))
            .Build();
        return policy;
    }

    private static readonly PathString[] ClientNamingPaths = [ConnectPaths.Token, ConnectPaths.Revoke, ConnectPaths.Introspect];

    /// <summary>The client a request names: HTTP Basic (RFC 6749 2.3.1, form-encoded id) or the form's client_id.</summary>
    private static async Task<string?> CallerAsync(HttpRequest request)
    {
        if (AuthenticationHeaderValue.TryParse(request.Headers.Authorization, out var header)
            && string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) && header.Parameter is { } parameter)
        {
            try
            {
                var credentials = Encoding.UTF8.GetString(Convert.FromBase64String(parameter));
                var colon = credentials.IndexOf(':', StringComparison.Ordinal);
                return colon < 0 ? null : Uri.UnescapeDataString(credentials[..colon].Replace('+', ' '));
            }
            catch (FormatException)
            {
                return null;
            }
        }

        if (!request.HasFormContentType)
        {
            return null;
        }

        try
        {
            // Read asynchronously here; the form is kept for OpenIddict, which reads it next.
            var form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
            return form["client_id"] is { Count: 1 } clientId ? clientId.ToString() : null;
        }
        catch (InvalidDataException)
        {
            return null;   // OpenIddict answers a malformed form as it would without an Origin
        }
    }

    /// <param name="clientId">The client whose origins count; null for any client's.</param>
    private async Task<bool> IsAllowedAsync(string origin, string? clientId, CancellationToken cancellationToken)
    {
        // A coarse text match narrows the clients in SQL; the exact comparison happens on the parsed list.
        var quoted = JsonSerializer.Serialize(origin);
        var clients = db.Set<OpenIddictEntityFrameworkCoreApplication>().AsNoTracking();
        if (clientId is not null)
        {
            clients = clients.Where(a => a.ClientId == clientId);
        }

        var candidates = await clients
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
