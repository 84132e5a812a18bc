using System.Security.Claims;
using System.Text.RegularExpressions;
using IdentityServer.Connect;
using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore.Models;

namespace IdentityServer.Admin;

public sealed record ScopeRequest(string? Name, string? DisplayName, string? Description, IReadOnlyList<string>? Resources);

public sealed record ScopeResponse(string Name, string? DisplayName, string? Description, IReadOnlyList<string> Resources);

internal static partial class ScopesEndpoints
{
    public static RouteGroupBuilder MapScopesEndpoints(this RouteGroupBuilder admin)
    {
        var scopes = admin.MapGroup("/scopes").WithTags("Scopes");
        scopes.MapPost("/", CreateAsync).WithName("CreateScope")
            .Produces<ScopeResponse>(StatusCodes.Status201Created).ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict);
        scopes.MapGet("/", ListAsync).WithName("ListScopes").Produces<IReadOnlyList<ScopeResponse>>();
        scopes.MapGet("/{name}", GetAsync).WithName("GetScope")
            .Produces<ScopeResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        scopes.MapPut("/{name}", UpdateAsync).WithName("UpdateScope")
            .Produces<ScopeResponse>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        scopes.MapDelete("/{name}", DeleteAsync).WithName("DeleteScope")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return admin;
    }

    private static async Task<IResult> CreateAsync(
        ScopeRequest request, IOpenIddictScopeManager scopes, AuditTrail audit, ClaimsPrincipal user, HttpContext http, CancellationToken cancellationToken)
    {
        var errors = Validate(request, request.Name, isCreate: true);
        if (errors.Any)
        {
            return errors.ToProblem();
        }

        if (StandardScopes.Registered.Contains(request.Name!))
        {
            return AdminProblems.Conflict($"'{request.Name}' is a built-in scope.");
        }

        var taken = $"A scope named '{request.Name}' already exists.";
        if (await scopes.FindStoredByNameAsync(request.Name!, cancellationToken) is not null)
        {
            return AdminProblems.Conflict(taken);
        }

        var descriptor = new OpenIddictScopeDescriptor { Name = request.Name };
        Describe(descriptor, request);
        if (await AdminProblems.ConflictIfCreatedMeanwhileAsync(
                async () => await scopes.CreateAsync(descriptor, cancellationToken),
                async () => await scopes.FindStoredByNameAsync(request.Name!, CancellationToken.None) is not null,
                taken,
                cancellationToken) is { } conflict)
        {
            return conflict;
        }

        await audit.RecordAsync(user, "scope.created", request.Name!, new { request.Resources });
        return TypedResults.Created($"{http.Request.PathBase}/admin/scopes/{Uri.EscapeDataString(request.Name!)}", ToResponse(descriptor));
    }

    private static async Task<IResult> ListAsync(IOpenIddictScopeManager scopes, CancellationToken cancellationToken)
    {
        var result = StandardScopes.Registered.Select(BuiltIn).ToList();
        await foreach (var scope in scopes.ListAsync(count: null, offset: null, cancellationToken))
        {
            var descriptor = new OpenIddictScopeDescriptor();
            await scopes.PopulateAsync(descriptor, scope, cancellationToken);
            result.Add(ToResponse(descriptor));
        }

        return TypedResults.Ok(result.OrderBy(s => s.Name, StringComparer.Ordinal).ToList());
    }

    private static async Task<IResult> GetAsync(string name, IOpenIddictScopeManager scopes, CancellationToken cancellationToken)
    {
        name = NameFromPath(name);
        if (StandardScopes.Registered.Contains(name))
        {
            return TypedResults.Ok(BuiltIn(name));
        }

        var scope = await scopes.FindStoredByNameAsync(name, cancellationToken);
        if (scope is null)
        {
            return AdminProblems.NotFound("Scope", name);
        }

        var descriptor = new OpenIddictScopeDescriptor();
        await scopes.PopulateAsync(descriptor, scope, cancellationToken);
        return TypedResults.Ok(ToResponse(descriptor));
    }

    private static async Task<IResult> UpdateAsync(
        string name, ScopeRequest request, IOpenIddictScopeManager scopes, AuditTrail audit, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        name = NameFromPath(name);
        if (StandardScopes.Registered.Contains(name))
        {
            return AdminProblems.BuiltIn($"'{name}' is a built-in scope: what it grants is fixed.");
        }

        var scope = await scopes.FindStoredByNameAsync(name, cancellationToken);
        if (scope is null)
        {
            return AdminProblems.NotFound("Scope", name);
        }

        var errors = Validate(request, name, isCreate: false);
        if (errors.Any)
        {
            return errors.ToProblem();
        }

        var descriptor = new OpenIddictScopeDescriptor();
        await scopes.PopulateAsync(descriptor, scope, cancellationToken);
        Describe(descriptor, request);
        await scopes.UpdateAsync(scope, descriptor, cancellationToken);
        await audit.RecordAsync(user, "scope.updated", name, new { request.Resources });
        return TypedResults.Ok(ToResponse(descriptor));
    }

    private static async Task<IResult> DeleteAsync(
        string name, IOpenIddictScopeManager scopes, IOpenIddictApplicationManager applications, ApplicationDbContext db, AuditTrail audit,
        RegistrationChanges changes, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        name = NameFromPath(name);
        if (StandardScopes.Registered.Contains(name))
        {
            return AdminProblems.BuiltIn($"'{name}' is a built-in scope and cannot be deleted.");
        }

        var scope = await scopes.FindStoredByNameAsync(name, cancellationToken);
        if (scope is null)
        {
            return AdminProblems.NotFound("Scope", name);
        }

        if (name == StandardScopes.Admin)
        {
            // Without it no token could open this API again, the call that deletes it included.
            return AdminProblems.BuiltIn("The admin scope opens the admin API and cannot be deleted.");
        }

        // The clients that had it lose it, as in Keycloak: a client keeping the permission would be refused at its next
        // edit (its stored scopes no longer exist) and would silently regain the scope if one were created again. All in
        // one transaction: a delete that fails (or loses a race and is retried) leaves every client as it was.
        var permission = OpenIddictConstants.Permissions.Prefixes.Scope + name;
        // A scope name holds no quote or backslash, so this is how the permission reads in a client's stored JSON list:
        // a text match finds the candidates in SQL instead of reading every client; the exact check runs on each.
        var quotedPermission = "\"" + permission + "\"";
        var holderIds = await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            // An attempt retried by the execution strategy starts from the database, not from what the failed one edited.
            db.ChangeTracker.Clear();
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            // The version row first, as every registration change in a transaction does: a concurrent delete or client
            // edit waits here, before this one reads the clients it will change.
            await RegistrationChanges.CountUpAsync(db);
            var candidates = await db.Set<OpenIddictEntityFrameworkCoreApplication>()
                .Where(application => application.Permissions != null && application.Permissions.Contains(quotedPermission))
                .OrderBy(application => application.Id)
                .ToListAsync(cancellationToken);
            var holderIds = new List<string>();
            foreach (var application in candidates)
            {
                if (!await applications.HasPermissionAsync(application, permission, cancellationToken))
                {
                    continue;
                }

                var descriptor = new OpenIddictApplicationDescriptor();
                await applications.PopulateAsync(descriptor, application, cancellationToken);
                descriptor.Permissions.Remove(permission);
                await applications.UpdateAsync(application, descriptor, cancellationToken);
                holderIds.Add(application.ClientId!);
            }

            await scopes.DeleteAsync(scope, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return holderIds;
        });
        // Requests here may have re-read the clients between the managers' clearing and the commit.
        changes.ExpireHere();
        await audit.RecordAsync(user, "scope.deleted", name, new { Clients = holderIds });
        return TypedResults.NoContent();
    }

    private static void Describe(OpenIddictScopeDescriptor descriptor, ScopeRequest request)
    {
        // PUT changes what it names: an omitted (null) field keeps its current value, as for clients and users.
        if (request.DisplayName is not null || descriptor.DisplayName is null)
        {
            descriptor.DisplayName = string.IsNullOrWhiteSpace(request.DisplayName) ? descriptor.Name : request.DisplayName.Trim();
        }

        if (request.Description is not null)
        {
            descriptor.Description = string.IsNullOrWhiteSpace(request.Description) ? null : request.Description.Trim();
        }

        if (request.Resources is not null)
        {
            descriptor.Resources.Clear();
            descriptor.Resources.UnionWith(request.Resources.Where(r => !string.IsNullOrWhiteSpace(r)).Select(r => r.Trim()));
        }
    }

    // The OpenID Connect scopes are not rows: they are listed and read like the others (as Keycloak lists its built-in
    // client scopes), with what the consent page says of them, and cannot be changed.
    private static ScopeResponse BuiltIn(string name) => new(name, name, StandardScopes.Descriptions[name], []);

    /// <summary>
    /// Routing decodes a path segment except "%2F". Names allowed today hold no '/', but earlier versions let a scope be
    /// named "orders/read": addressed as orders%2Fread, it can still be read, edited and deleted. Only that escape is
    /// undone here: decoding the rest again would turn x%2541y (the name x%41y) into xAy, another scope.
    /// </summary>
    private static string NameFromPath(string name) => name.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);

    private static ScopeResponse ToResponse(OpenIddictScopeDescriptor descriptor) =>
        new(descriptor.Name!, descriptor.DisplayName, descriptor.Description, [.. descriptor.Resources.Order(StringComparer.Ordinal)]);

    private static FieldErrors Validate(ScopeRequest request, string? name, bool isCreate)
    {
        var errors = new FieldErrors();
        if (string.IsNullOrWhiteSpace(name))
        {
            errors.Add("name", "The scope name is required.");
        }
        else if (isCreate && !ScopeNamePattern().IsMatch(name))
        {
            errors.Add("name", "Use 1 to 100 printable characters without spaces, quotes, slashes, backslashes or '%', and not only dots.");
        }

        errors.RequireItems("resources", request.Resources);
        if (!isCreate && request.Name is not null && request.Name != name)
        {
            errors.Add("name", "The scope name cannot be changed.");
        }

        if (request.DisplayName is { Length: > 200 })
        {
            errors.Add("displayName", "At most 200 characters.");
        }

        foreach (var resource in request.Resources ?? [])
        {
            if (string.IsNullOrWhiteSpace(resource) || resource.Length > 200 || resource.Any(char.IsWhiteSpace))
            {
                errors.Add("resources", $"'{resource}' is not a valid resource (1 to 200 characters, no spaces).");
            }
            else if (resource.Trim().TrimEnd('/') is StandardScopes.DefaultResource or StandardScopes.AdminResource)
            {
                // Every token without an API scope carries the first, admin tokens the second: an API given either name
                // would take tokens that were never meant for it.
                errors.Add("resources", $"'{resource}' is this server's own audience; choose another.");
            }
        }

        return errors;
    }

    // RFC 6749 scope-token (%x21 / %x23-5B / %x5D-7E) less '/' and '%', and not dots alone: the name is a segment of
    // the admin API's URLs, where an encoded '/' is never decoded and "." or ".." is resolved away.
    [GeneratedRegex(@"^(?!\.+\z)[\x21\x23\x24\x26-\x2E\x30-\x5B\x5D-\x7E]{1,100}\z")]
    private static partial Regex ScopeNamePattern();
}
