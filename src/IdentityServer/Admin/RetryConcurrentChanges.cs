using IdentityServer.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;

namespace IdentityServer.Admin;

/// <summary>
/// Clients, scopes and users are written with optimistic concurrency: a write that finds its row changed since it was
/// read (another admin's write, a sign-in counting a failed password) is refused by the database. Rather than answer
/// that with a 500, the whole call is done again on a fresh read, as a retry by the caller would; each PUT changes only
/// the fields it names, so both changes stay. After a few lost races in a row, 409.
/// </summary>
internal sealed class RetryConcurrentChanges(ApplicationDbContext db) : IEndpointFilter
{
    private const int Attempts = 3;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var result = await next(context);
                if (!IsChangedMeanwhile(result) || attempt == Attempts)
                {
                    return result;
                }
            }
            catch (Exception exception) when (exception is OpenIddictExceptions.ConcurrencyException or DbUpdateConcurrencyException)
            {
                if (attempt == Attempts)
                {
                    return AdminProblems.ChangedMeanwhile();
                }
            }
            catch (Exception exception) when (attempt < Attempts && LostToAConcurrentWrite(exception) && !context.HttpContext.RequestAborted.IsCancellationRequested)
            {
                // PostgreSQL refuses the loser of two deletes of one client (a serialization failure inside OpenIddict's
                // transaction), or a delete whose rows another write just referenced (a foreign key): the fresh read
                // of the next attempt finds the client gone (404) or deletes it with what now refers to it.
            }

            // The next attempt must read the rows again, not get back the entities this one tracked (and changed).
            db.ChangeTracker.Clear();
        }
    }

    /// <summary>A write the database refused because of another one: a failed save, or a serialization failure or
    /// deadlock EF Core reports as a transient failure (no retrying execution strategy is configured).</summary>
    private static bool LostToAConcurrentWrite(Exception exception) =>
        exception is DbUpdateException
        || exception is InvalidOperationException { InnerException: DbUpdateException or System.Data.Common.DbException { IsTransient: true } };

    private static bool IsChangedMeanwhile(object? result) =>
        result is ProblemHttpResult { ProblemDetails.Title: AdminProblems.ChangedMeanwhileTitle };
}
