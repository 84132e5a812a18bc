using System.Security.Claims;
using System.Security.Cryptography;
using IdentityServer.Persistence;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace IdentityServer.Users;

/// <summary>
/// Signing out ends the browser session on the server, as in Keycloak, not only in the browser that signed out: a
/// copied session cookie stops working at once, on every instance sharing the database. Each sign-in cookie carries a
/// random session id; sign-out records it, and every request that presents the cookie checks the record (one
/// primary-key lookup, only for requests that carry the cookie: the pages and the authorization endpoint).
/// </summary>
public sealed class BrowserSessions(ApplicationDbContext db, Connect.BackChannelLogout backChannelLogout, TimeProvider time)
{
    public const string SessionIdClaim = "sid";

    public static Claim NewSessionId() => new(SessionIdClaim, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));

    /// <summary>
    /// Ends the session here, then in the apps it signed in to that asked to hear of it (back-channel logout), before
    /// the browser goes on to one of them.
    /// </summary>
    public Task EndAsync(ClaimsPrincipal? session, CancellationToken cancellationToken) => EndAsync(SessionId(session), cancellationToken);

    /// <inheritdoc cref="EndAsync(ClaimsPrincipal?, CancellationToken)"/>
    public async Task EndAsync(string? sessionId, CancellationToken cancellationToken)
    {
        if (Valid(sessionId) is not { } id)
        {
            return;
        }

        await RecordEndedAsync(id, cancellationToken);
        await backChannelLogout.SessionEndedAsync(id);
    }

    private async Task RecordEndedAsync(string id, CancellationToken cancellationToken)
    {
        if (await IsRecordedAsync(id, cancellationToken))
        {
            return;
        }

        var ended = db.EndedSessions.Add(new EndedSession { Id = id, EndedAt = time.GetUtcNow() });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Signed out twice at once (the same cookie, two tabs): the other request recorded it.
            ended.State = EntityState.Detached;
            if (!await IsRecordedAsync(id, cancellationToken))
            {
                throw;
            }
        }
    }

    public Task<bool> HasEndedAsync(ClaimsPrincipal session, CancellationToken cancellationToken) =>
        HasEndedAsync(SessionId(session), cancellationToken);

    public async Task<bool> HasEndedAsync(string? sessionId, CancellationToken cancellationToken) =>
        Valid(sessionId) is { } id && await IsRecordedAsync(id, cancellationToken);

    /// <summary>A record outlives every cookie that carries its id: a cookie is renewed only while its session lives.</summary>
    public Task<int> PruneAsync(TimeSpan cookieLifetime, CancellationToken cancellationToken)
    {
        var threshold = time.GetUtcNow() - cookieLifetime;
        return SqliteWriteGate.WriteAsync(db, aborted =>
            db.EndedSessions.Where(ended => ended.EndedAt < threshold).ExecuteDeleteAsync(aborted), cancellationToken);
    }

    /// <summary>
    /// Runs after Identity's security stamp check on every request that presents the sign-in cookie. (A cookie from
    /// before session ids existed carries none until <see cref="KeepAcrossReissue"/> gives it one.)
    /// </summary>
    internal static Func<CookieValidatePrincipalContext, Task> RejectEnded(Func<CookieValidatePrincipalContext, Task> checkStamp) =>
        async context =>
        {
            await checkStamp(context);
            if (context.Principal is { } principal
                && await context.HttpContext.RequestServices.GetRequiredService<BrowserSessions>()
                    .HasEndedAsync(principal, context.HttpContext.RequestAborted))
            {
                context.RejectPrincipal();
                await context.HttpContext.SignOutAsync(IdentityConstants.ApplicationScheme);
            }
        };

    /// <summary>
    /// Identity re-issues the cookie from a fresh principal every minute (the security stamp check): the sign-in time
    /// and the session id carry over. A cookie from before session ids existed gets one here, so that a sign-out ends
    /// it too (it would otherwise slide on forever).
    /// </summary>
    public static void KeepAcrossReissue(ClaimsPrincipal? current, ClaimsPrincipal? reissued)
    {
        if (reissued?.Identity is not ClaimsIdentity identity)
        {
            return;
        }

        foreach (var type in new[] { OpenIddict.Abstractions.OpenIddictConstants.Claims.AuthenticationTime, SessionIdClaim })
        {
            if (current?.FindFirst(type) is { } kept && !identity.HasClaim(claim => claim.Type == type))
            {
                identity.AddClaim(new Claim(kept.Type, kept.Value, kept.ValueType));
            }
        }

        if (!identity.HasClaim(claim => claim.Type == SessionIdClaim))
        {
            identity.AddClaim(NewSessionId());
        }
    }

    private Task<bool> IsRecordedAsync(string id, CancellationToken cancellationToken) =>
        db.EndedSessions.AnyAsync(ended => ended.Id == id, cancellationToken);

    /// <summary>The session id a sign-in cookie carries.</summary>
    public static string? SessionId(ClaimsPrincipal? session) => Valid(session?.FindFirst(SessionIdClaim)?.Value);

    /// <summary>An id as this server makes them, and short enough for its column; anything else names no session.</summary>
    private static string? Valid(string? sessionId) => sessionId is { Length: > 0 and <= 64 } ? sessionId : null;
}
