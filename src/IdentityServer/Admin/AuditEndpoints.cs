using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;

namespace IdentityServer.Admin;

public sealed record AuditEventResponse(long Id, DateTimeOffset OccurredAt, string Actor, string Action, string Target, string? Details);

public sealed record AuditPage(IReadOnlyList<AuditEventResponse> Items, int Page, int PageSize, int Total);

internal static class AuditEndpoints
{
    public static RouteGroupBuilder MapAuditEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapGet("/audit", ListAsync).WithTags("Audit").WithName("ListAuditEvents").Produces<AuditPage>().ProducesValidationProblem();
        return admin;
    }

    /// <summary>Newest first; filter by action (exact, or a prefix ending in '.') and by actor or target.</summary>
    private static async Task<IResult> ListAsync(
        ApplicationDbContext db, string? action, string? actor, string? target, string? page, string? pageSize, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors();
        var (number, size) = Paging.Parse(errors, page, pageSize);
        if (errors.Any)
        {
            return errors.ToProblem();
        }

        var query = db.AuditEvents.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(action))
        {
            query = action.EndsWith('.') ? query.Where(a => a.Action.StartsWith(action)) : query.Where(a => a.Action == action);
        }

        if (!string.IsNullOrWhiteSpace(actor))
        {
            query = query.Where(a => a.Actor == actor);
        }

        if (!string.IsNullOrWhiteSpace(target))
        {
            query = query.Where(a => a.Target == target);
        }

        var total = await query.CountAsync(cancellationToken);
        var items = await query
            .OrderByDescending(a => a.Id)
            .Skip((number - 1) * size)
            .Take(size)
            .Select(a => new AuditEventResponse(a.Id, a.OccurredAt, a.Actor, a.Action, a.Target, a.Details))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new AuditPage(items, number, size, total));
    }
}
