using System.Security.Claims;
using System.Text.Json;
using IdentityServer.Persistence;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Admin;

/// <summary>Writes who changed what, and when. Details never carry passwords, secrets or hashes.</summary>
public sealed partial class AuditTrail(ApplicationDbContext db, TimeProvider time, ILogger<AuditTrail> logger)
{
    public async Task RecordAsync(ClaimsPrincipal actor, string action, string target, object? details, CancellationToken cancellationToken)
    {
        var who = actor.GetClaim(Claims.Subject) ?? actor.GetClaim(Claims.ClientId) ?? "anonymous";
        var audit = new AuditEvent
        {
            OccurredAt = time.GetUtcNow(),
            Actor = who,
            Action = action,
            Target = target,
            Details = details is null ? null : JsonSerializer.Serialize(details, JsonSerializerOptions.Web),
        };
        db.AuditEvents.Add(audit);
        await db.SaveChangesAsync(cancellationToken);
        LogAudit(logger, who, action, target);
    }

    public Task RecordAsync(string actor, string action, string target, CancellationToken cancellationToken) =>
        RecordAsync(new ClaimsPrincipal(new ClaimsIdentity([new Claim(Claims.Subject, actor)])), action, target, null, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, EventName = "Audit", Message = "Audit: {Actor} {Action} {Target}.")]
    private static partial void LogAudit(ILogger logger, string actor, string action, string target);
}
