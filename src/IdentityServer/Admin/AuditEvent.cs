namespace IdentityServer.Admin;

/// <summary>One admin or security action: who did what to which thing, and when.</summary>
public sealed class AuditEvent
{
    public long Id { get; set; }

    public DateTimeOffset OccurredAt { get; set; }

    public required string Actor { get; set; }

    public required string Action { get; set; }

    public required string Target { get; set; }

    /// <summary>Non-secret details as JSON.</summary>
    public string? Details { get; set; }
}
