using System.Security.Claims;
using System.Text.Json;
using IdentityServer.Persistence;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Admin;

/// <summary>Writes who changed what, and when. Details never carry passwords, secrets or hashes.</summary>
public sealed partial class AuditTrail(ApplicationDbContext db, TimeProvider time, ILogger<AuditTrail> logger)
{
    /// <summary>An admin change, by the user or client the access token was issued to.</summary>
    public Task RecordAsync(ClaimsPrincipal actor, string action, string target, object? details) =>
        RecordAsync(actor.GetClaim(Claims.Subject) ?? actor.GetClaim(Claims.ClientId) ?? "anonymous", action, target, details);

    /// <summary>A security event, by a known actor (a user id, a client id, or "anonymous").</summary>
    public Task RecordAsync(string actor, string action, string target) =>
        RecordAsync(actor, action, target, details: null);

    /// <summary>
    /// Not cancelled by the caller hanging up: what is recorded has already happened (a change committed, a password
    /// tried), and closing the connection must not be a way to leave no trace of it.
    /// </summary>
    private async Task RecordAsync(string actor, string action, string target, object? details)
    {
        db.AuditEvents.Add(new AuditEvent
        {
            OccurredAt = time.GetUtcNow(),
            Actor = actor,
            Action = action,
            Target = target,
            Details = details is null ? null : JsonSerializer.Serialize(details, JsonSerializerOptions.Web),
        });
        await db.SaveChangesAsync(CancellationToken.None);
        LogAudit(logger, actor, action, target);
    }

    [LoggerMessage(Level = LogLevel.Information, EventName = "Audit", Message = "Audit: {Actor} {Action} {Target}.")]
    private static partial void LogAudit(ILogger logger, string actor, string action, string target);
}
