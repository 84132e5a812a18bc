using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;

namespace IdentityServer.Admin;

/// <summary>Collects field-keyed validation errors, answered as one RFC 9457 problem with an <c>errors</c> object.</summary>
internal sealed class FieldErrors
{
    public const int MaxItems = 100;

    public const int MaxItemLength = 2000;

    private readonly Dictionary<string, List<string>> errors = new(StringComparer.Ordinal);

    public bool Any => errors.Count > 0;

    public void Add(string field, string message)
    {
        if (!errors.TryGetValue(field, out var messages))
        {
            errors[field] = messages = [];
        }

        messages.Add(message);
    }

    /// <summary>
    /// A list field whose items must all be strings with content (a null or blank one is an error, not dropped), at
    /// most <see cref="MaxItems"/> of them and each at most <see cref="MaxItemLength"/> characters: every item is
    /// checked, stored and matched at each request, so a list bounded only by the body size (1 MB) held up the server.
    /// </summary>
    public void RequireItems(string field, IReadOnlyList<string?>? values)
    {
        if (values?.Any(string.IsNullOrWhiteSpace) == true)
        {
            Add(field, "Each item must be a non-empty string.");
        }

        if (values?.Count > MaxItems)
        {
            Add(field, $"At most {MaxItems} items.");
        }

        if (values?.Any(value => value?.Length > MaxItemLength) == true)
        {
            Add(field, $"Each item is at most {MaxItemLength} characters.");
        }
    }

    public IResult ToProblem() =>
        TypedResults.ValidationProblem(errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
}

internal static class AdminProblems
{
    public static IResult NotFound(string what, string id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: $"{what} not found.", detail: $"No {what.ToLowerInvariant()} has the id '{id}'.");

    public static IResult Conflict(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Already exists.", detail: detail);

    public const string ChangedMeanwhileTitle = "Changed meanwhile.";

    /// <summary>The row changed between this call's read and its write (see <see cref="RetryConcurrentChanges"/>).</summary>
    public static IResult ChangedMeanwhile() =>
        TypedResults.Problem(
            statusCode: StatusCodes.Status409Conflict,
            title: ChangedMeanwhileTitle,
            detail: "It was changed by another request while this one was being handled; read it again and retry.");

    public static IResult BuiltIn(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Built in.", detail: detail);

    /// <summary>
    /// Runs a create that an "already exists" check has just allowed. If another admin created the same thing between
    /// that check and this write, the unique index refuses it: then the 409 the check would have given (null when
    /// created). <paramref name="existsNow"/> must read the stored row (the FindStored lookups), past OpenIddict's
    /// per-request cache, which may still remember the check's "not found". Any other failed write is rethrown.
    /// </summary>
    public static async Task<IResult?> ConflictIfCreatedMeanwhileAsync(
        Func<Task> create, Func<Task<bool>> existsNow, string conflict, CancellationToken cancellationToken)
    {
        try
        {
            await create();
            return null;
        }
        // OpenIddict's managers check uniqueness themselves before writing, and throw their own exception when another
        // request created the same id between that check and ours.
        catch (Exception exception) when (exception is DbUpdateException or OpenIddictExceptions.ValidationException
            && !cancellationToken.IsCancellationRequested)
        {
            if (await existsNow())
            {
                return Conflict(conflict);
            }

            throw;
        }
    }
}
