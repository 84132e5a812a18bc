using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using IdentityServer.Connect;
using IdentityServer.Hosting;
using IdentityServer.Persistence;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore.Models;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Admin;

public sealed record ClientRequest(
    string? ClientId,
    string? DisplayName,
    string? ClientType,
    string? ClientSecret,
    IReadOnlyList<string>? RedirectUris,
    IReadOnlyList<string>? PostLogoutRedirectUris,
    IReadOnlyList<string>? GrantTypes,
    IReadOnlyList<string>? Scopes,
    string? ConsentType,
    IReadOnlyList<string>? AllowedCorsOrigins,
    string? BackChannelLogoutUri = null);

public sealed record ClientResponse(
    string ClientId,
    string? DisplayName,
    string ClientType,
    IReadOnlyList<string> RedirectUris,
    IReadOnlyList<string> PostLogoutRedirectUris,
    IReadOnlyList<string> GrantTypes,
    IReadOnlyList<string> Scopes,
    string ConsentType,
    IReadOnlyList<string> AllowedCorsOrigins,
    string? BackChannelLogoutUri)
{
    /// <summary>Present only in the response that created or rotated it: the secret is stored hashed.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? ClientSecret { get; init; }
}

public sealed record ClientSecretResponse(string ClientId, string ClientSecret);

internal static partial class ClientsEndpoints
{
    public const string CorsOriginsProperty = "allowed_cors_origins";

    /// <summary>The shortest client secret an admin may choose (generated ones are 256-bit).</summary>
    public const int MinimumSecretLength = 16;

    private static readonly string[] SupportedGrantTypes =
        [GrantTypes.AuthorizationCode, GrantTypes.RefreshToken, GrantTypes.ClientCredentials, GrantTypes.Password, GrantTypes.DeviceCode];

    public static RouteGroupBuilder MapClientsEndpoints(this RouteGroupBuilder admin)
    {
        var clients = admin.MapGroup("/clients").WithTags("Clients");
        clients.MapPost("/", CreateAsync).WithName("CreateClient")
            .Produces<ClientResponse>(StatusCodes.Status201Created).ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict);
        clients.MapGet("/", ListAsync).WithName("ListClients").Produces<IReadOnlyList<ClientResponse>>();
        clients.MapGet("/{clientId}", GetAsync).WithName("GetClient")
            .Produces<ClientResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        clients.MapPut("/{clientId}", UpdateAsync).WithName("UpdateClient")
            .Produces<ClientResponse>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        clients.MapDelete("/{clientId}", DeleteAsync).WithName("DeleteClient")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        clients.MapPost("/{clientId}/secret", RotateSecretAsync).WithName("RotateClientSecret")
            .Produces<ClientSecretResponse>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return admin;
    }

    private static async Task<IResult> CreateAsync(
        ClientRequest request, IOpenIddictApplicationManager applications, IOpenIddictScopeManager scopes,
        ApplicationDbContext db, AuditTrail audit, ClaimsPrincipal user, HttpContext http, CancellationToken cancellationToken)
    {
        var errors = await ValidateAsync(request, request.ClientId, isCreate: true, scopes, cancellationToken);
        // User ids are GUIDs written lower-case with hyphens; an API may parse a subject as a GUID, so any spelling counts.
        var asUserId = Guid.TryParse(request.ClientId, out var guid) ? guid.ToString("D") : request.ClientId;
        if (!errors.Any && await db.Users.AsNoTracking().AnyAsync(account => account.Id == asUserId, cancellationToken))
        {
            // A client's own tokens carry its id as their subject: an API could not tell them from that user's (RFC 9068 6).
            errors.Add("clientId", "This id is a user's id; choose another.");
        }

        if (errors.Any)
        {
            return errors.ToProblem();
        }

        var taken = $"A client with the id '{request.ClientId}' already exists.";
        if (await applications.FindStoredByClientIdAsync(request.ClientId!, cancellationToken) is not null)
        {
            return AdminProblems.Conflict(taken);
        }

        var descriptor = new OpenIddictApplicationDescriptor { ClientId = request.ClientId };
        var secret = Describe(descriptor, request);
        object? application = null;
        if (await AdminProblems.ConflictIfCreatedMeanwhileAsync(
                async () => application = await applications.CreateAsync(descriptor, cancellationToken),
                async () => await applications.FindStoredByClientIdAsync(request.ClientId!, CancellationToken.None) is not null,
                taken,
                cancellationToken) is { } conflict)
        {
            return conflict;
        }

        await DropScopesDeletedMeanwhileAsync(application!, descriptor, request.Scopes, applications, db);
        var created = ToResponse(descriptor) with { ClientSecret = secret };
        await audit.RecordAsync(user, "client.created", request.ClientId!, ClientAudit.Of(created, secretSet: descriptor.ClientSecret is not null));

        return TypedResults.Created($"{http.Request.PathBase}/admin/clients/{Uri.EscapeDataString(created.ClientId)}", created);
    }

    private static async Task<IResult> ListAsync(IOpenIddictApplicationManager applications, CancellationToken cancellationToken)
    {
        var result = new List<ClientResponse>();
        await foreach (var application in applications.ListAsync(count: null, offset: null, cancellationToken))
        {
            result.Add(await ReadAsync(applications, application, cancellationToken));
        }

        return TypedResults.Ok(result.OrderBy(c => c.ClientId, StringComparer.Ordinal).ToList());
    }

    private static async Task<IResult> GetAsync(string clientId, IOpenIddictApplicationManager applications, CancellationToken cancellationToken) =>
        await applications.FindStoredByClientIdAsync(clientId, cancellationToken) is { } application
            ? TypedResults.Ok(await ReadAsync(applications, application, cancellationToken))
            : AdminProblems.NotFound("Client", clientId);

    private static async Task<IResult> UpdateAsync(
        string clientId, ClientRequest request, IOpenIddictApplicationManager applications, IOpenIddictScopeManager scopes,
        IOpenIddictTokenManager tokens, ApplicationDbContext db, AuditTrail audit, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var application = await applications.FindStoredByClientIdAsync(clientId, cancellationToken);
        if (application is null)
        {
            return AdminProblems.NotFound("Client", clientId);
        }

        // PUT changes what it names: an omitted (null) field keeps its current value, as in Keycloak's admin API.
        var current = await ReadAsync(applications, application, cancellationToken);
        var asSent = request;
        request = request with
        {
            DisplayName = request.DisplayName ?? current.DisplayName,
            ClientType = request.ClientType ?? current.ClientType,
            RedirectUris = request.RedirectUris ?? current.RedirectUris,
            PostLogoutRedirectUris = request.PostLogoutRedirectUris ?? current.PostLogoutRedirectUris,
            GrantTypes = request.GrantTypes ?? current.GrantTypes,
            Scopes = request.Scopes ?? current.Scopes,
            ConsentType = request.ConsentType ?? current.ConsentType,
            AllowedCorsOrigins = request.AllowedCorsOrigins ?? current.AllowedCorsOrigins,
            BackChannelLogoutUri = request.BackChannelLogoutUri ?? current.BackChannelLogoutUri,
        };

        var errors = await ValidateAsync(request, clientId, isCreate: false, scopes, cancellationToken, asSent);
        if (errors.Any)
        {
            return errors.ToProblem();
        }

        var descriptor = new OpenIddictApplicationDescriptor();
        await applications.PopulateAsync(descriptor, application, cancellationToken);
        var keepSecret = descriptor.ClientSecret;
        var hadAdmin = HasOwnAdminAccess(descriptor);
        var newSecret = Describe(descriptor, request, keepSecret);
        await applications.UpdateAsync(application, descriptor, cancellationToken);
        await DropScopesDeletedMeanwhileAsync(application, descriptor, asSent.Scopes, applications, db);
        if (hadAdmin && !HasOwnAdminAccess(descriptor))
        {
            // Its admin-scope access tokens would keep opening the admin API until they expire (the API checks the
            // token's row, not the client's permissions), as for a user whose admin role is removed. The change is saved:
            // the caller hanging up now must not leave them working.
            await tokens.RevokeAsync(clientId, await applications.GetIdAsync(application, CancellationToken.None), status: null,
                type: TokenTypeIdentifiers.AccessToken, CancellationToken.None);
        }
        var updated = ToResponse(descriptor);
        await audit.RecordAsync(user, "client.updated", clientId,
            ClientAudit.Of(updated, secretSet: newSecret is not null || !string.IsNullOrEmpty(request.ClientSecret)));

        return TypedResults.Ok(updated with { ClientSecret = newSecret });
    }

    private static async Task<IResult> DeleteAsync(
        string clientId, IOpenIddictApplicationManager applications, AuditTrail audit, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var application = await applications.FindStoredByClientIdAsync(clientId, cancellationToken);
        if (application is null)
        {
            return AdminProblems.NotFound("Client", clientId);
        }

        // The EF Core store deletes the client's authorizations and tokens with it, so nothing it was issued still works.
        await applications.DeleteAsync(application, cancellationToken);
        await audit.RecordAsync(user, "client.deleted", clientId, null);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> RotateSecretAsync(
        string clientId, IOpenIddictApplicationManager applications, AuditTrail audit, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var application = await applications.FindStoredByClientIdAsync(clientId, cancellationToken);
        if (application is null)
        {
            return AdminProblems.NotFound("Client", clientId);
        }

        if (!await applications.HasClientTypeAsync(application, ClientTypes.Confidential, cancellationToken))
        {
            var errors = new FieldErrors();
            errors.Add("clientType", "Public clients have no secret.");
            return errors.ToProblem();
        }

        var secret = NewSecret();
        await applications.UpdateAsync(application, secret, cancellationToken);
        await audit.RecordAsync(user, "client.secret_rotated", clientId, null);
        return TypedResults.Ok(new ClientSecretResponse(clientId, secret));
    }

    /// <summary>
    /// What a client now is, as stored, for the audit trail: everything that decides where its codes and tokens may go
    /// (an attacker's redirect URI or a switch to implicit consent must show), and whether a secret was set, never it.
    /// </summary>
    private sealed record ClientAudit(
        string ClientType, IReadOnlyList<string> GrantTypes, IReadOnlyList<string> Scopes, IReadOnlyList<string> RedirectUris,
        IReadOnlyList<string> PostLogoutRedirectUris, IReadOnlyList<string> AllowedCorsOrigins, string ConsentType, bool SecretSet,
        string? BackChannelLogoutUri)
    {
        public static ClientAudit Of(ClientResponse client, bool secretSet) =>
            new(client.ClientType, client.GrantTypes, client.Scopes, client.RedirectUris, client.PostLogoutRedirectUris,
                client.AllowedCorsOrigins, client.ConsentType, secretSet, client.BackChannelLogoutUri);
    }

    /// <summary>
    /// A scope the request named and that was deleted while the client was being saved with it: the delete took the scope
    /// from the clients that had it when it looked, which can be before this save. The names are read again from the
    /// database now (the check before the save may have read them from memory) and any gone loses its permission, so the
    /// client does not keep a scope that no longer exists, nor regain it if one of that name is created again. Of the two
    /// reads, one sees the other's write: the save counts up the registration version once it is stored, which waits for
    /// a delete holding that row in its transaction, so this read comes after the delete's commit; or the count came
    /// first, and the delete's read of the clients, after it takes the row, sees the save. Not cancelled by the caller:
    /// the save is made. The descriptor is left as stored, for the response and the audit.
    /// </summary>
    private static async Task DropScopesDeletedMeanwhileAsync(
        object application, OpenIddictApplicationDescriptor descriptor, IReadOnlyList<string>? named,
        IOpenIddictApplicationManager applications, ApplicationDbContext db)
    {
        var names = Normalize(named).Where(name => !StandardScopes.Registered.Contains(name)).ToList();
        if (names.Count == 0)
        {
            return;
        }

        var stored = await db.Set<OpenIddictEntityFrameworkCoreScope>().AsNoTracking()
            .Where(scope => names.Contains(scope.Name!))
            .Select(scope => scope.Name!)
            .ToListAsync(CancellationToken.None);
        var gone = names.Where(name => !stored.Contains(name, StringComparer.Ordinal)).Select(name => Permissions.Prefixes.Scope + name).ToList();
        if (gone.Count == 0)
        {
            return;
        }

        // Read again: the delete may have taken the scope from this row itself, after the save. A client deleted
        // meanwhile is left gone.
        var entry = db.Entry((OpenIddictEntityFrameworkCoreApplication)application);
        await entry.ReloadAsync(CancellationToken.None);
        if (entry.State == EntityState.Detached)
        {
            return;
        }

        await applications.PopulateAsync(descriptor, application, CancellationToken.None);
        if (gone.Any(descriptor.Permissions.Contains))
        {
            descriptor.Permissions.ExceptWith(gone);
            await applications.UpdateAsync(application, descriptor, CancellationToken.None);
        }
    }

    private static bool HasOwnAdminAccess(OpenIddictApplicationDescriptor descriptor) =>
        descriptor.Permissions.Contains(Permissions.Prefixes.Scope + StandardScopes.Admin)
        && descriptor.Permissions.Contains(Permissions.GrantTypes.ClientCredentials);

    /// <summary>256 random bits: strong enough that the secret never needs to be typed or remembered.</summary>
    public static string NewSecret() => WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    /// <summary>Fills the descriptor from the request; returns the new plain secret when one was set.</summary>
    private static string? Describe(OpenIddictApplicationDescriptor descriptor, ClientRequest request, string? existingSecret = null)
    {
        var clientType = (request.ClientType ?? ClientTypes.Confidential).ToLowerInvariant();
        var grantTypes = Normalize(request.GrantTypes);
        var scopes = Normalize(request.Scopes);
        if (scopes.Contains(Scopes.OfflineAccess) && !grantTypes.Contains(GrantTypes.RefreshToken))
        {
            // offline_access means refresh tokens; the grant follows from the scope.
            grantTypes.Add(GrantTypes.RefreshToken);
        }

        descriptor.DisplayName = string.IsNullOrWhiteSpace(request.DisplayName) ? descriptor.ClientId : request.DisplayName.Trim();
        descriptor.ClientType = clientType;
        // Never "native", even for public clients: OpenIddict would then match a loopback redirect URI registered without
        // a port on any port (RFC 8252 7.3), and the contract matches redirect URIs exactly. Register the port in use.
        descriptor.ApplicationType = ApplicationTypes.Web;
        descriptor.ConsentType = (request.ConsentType ?? ConsentTypes.Implicit).ToLowerInvariant();

        descriptor.RedirectUris.Clear();
        descriptor.RedirectUris.UnionWith(Normalize(request.RedirectUris).Select(u => new Uri(u)));
        descriptor.PostLogoutRedirectUris.Clear();
        descriptor.PostLogoutRedirectUris.UnionWith(Normalize(request.PostLogoutRedirectUris).Select(u => new Uri(u)));

        descriptor.Permissions.Clear();
        descriptor.Permissions.Add(Permissions.Endpoints.Token);
        descriptor.Permissions.Add(Permissions.Endpoints.Revocation);
        if (clientType == ClientTypes.Confidential)
        {
            descriptor.Permissions.Add(Permissions.Endpoints.Introspection);
        }

        if (grantTypes.Contains(GrantTypes.AuthorizationCode))
        {
            descriptor.Permissions.Add(Permissions.Endpoints.Authorization);
            descriptor.Permissions.Add(Permissions.Endpoints.EndSession);
            descriptor.Permissions.Add(Permissions.ResponseTypes.Code);
        }

        if (grantTypes.Contains(GrantTypes.DeviceCode))
        {
            descriptor.Permissions.Add(Permissions.Endpoints.DeviceAuthorization);
        }

        foreach (var grantType in grantTypes)
        {
            descriptor.Permissions.Add(Permissions.Prefixes.GrantType + grantType);
        }

        foreach (var scope in scopes)
        {
            descriptor.Permissions.Add(Permissions.Prefixes.Scope + scope);
        }

        descriptor.Requirements.Clear();
        if (clientType == ClientTypes.Public)
        {
            descriptor.Requirements.Add(Requirements.Features.ProofKeyForCodeExchange);
        }

        descriptor.Properties[CorsOriginsProperty] = JsonSerializer.SerializeToElement(
            Normalize(request.AllowedCorsOrigins).Select(SerializedOrigin).Distinct(StringComparer.Ordinal).ToList());

        // An empty one removes it.
        if (string.IsNullOrWhiteSpace(request.BackChannelLogoutUri))
        {
            descriptor.Properties.Remove(BackChannelLogout.UriProperty);
        }
        else
        {
            descriptor.Properties[BackChannelLogout.UriProperty] = JsonSerializer.SerializeToElement(request.BackChannelLogoutUri.Trim());
        }

        if (clientType == ClientTypes.Public)
        {
            descriptor.ClientSecret = null;
            return null;
        }

        if (!string.IsNullOrEmpty(request.ClientSecret))
        {
            descriptor.ClientSecret = request.ClientSecret;
            return null;
        }

        if (existingSecret is not null)
        {
            descriptor.ClientSecret = existingSecret;
            return null;
        }

        return descriptor.ClientSecret = NewSecret();
    }

    private static async Task<ClientResponse> ReadAsync(IOpenIddictApplicationManager applications, object application, CancellationToken cancellationToken)
    {
        var descriptor = new OpenIddictApplicationDescriptor();
        await applications.PopulateAsync(descriptor, application, cancellationToken);
        return ToResponse(descriptor);
    }

    private static ClientResponse ToResponse(OpenIddictApplicationDescriptor descriptor)
    {
        var permissions = descriptor.Permissions;
        return new ClientResponse(
            descriptor.ClientId!,
            descriptor.DisplayName,
            descriptor.ClientType ?? ClientTypes.Confidential,
            [.. descriptor.RedirectUris.Select(u => u.OriginalString)],
            [.. descriptor.PostLogoutRedirectUris.Select(u => u.OriginalString)],
            [.. permissions.Where(p => p.StartsWith(Permissions.Prefixes.GrantType, StringComparison.Ordinal)).Select(p => p[Permissions.Prefixes.GrantType.Length..])],
            [.. permissions.Where(p => p.StartsWith(Permissions.Prefixes.Scope, StringComparison.Ordinal)).Select(p => p[Permissions.Prefixes.Scope.Length..])],
            descriptor.ConsentType ?? ConsentTypes.Implicit,
            CorsOrigins(descriptor),
            BackChannelLogout.UriOf(descriptor.Properties));
    }

    public static List<string> CorsOrigins(OpenIddictApplicationDescriptor descriptor) =>
        descriptor.Properties.TryGetValue(CorsOriginsProperty, out var origins) && origins.ValueKind == JsonValueKind.Array
            ? [.. origins.EnumerateArray().Select(o => o.GetString()).OfType<string>()]
            : [];

    /// <summary>
    /// An origin as a browser sends it in its Origin header (RFC 6454: lower-case scheme and host, no default port, no
    /// trailing slash), so that "https://App.example:443/" matches what the browser of that app sends. Validated before.
    /// </summary>
    private static string SerializedOrigin(string origin) =>
        Uri.TryCreate(origin.TrimEnd('/'), UriKind.Absolute, out var uri)
            ? uri.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped)
            : origin;

    private static List<string> Normalize(IReadOnlyList<string>? values) =>
        values is null ? [] : [.. values.Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v.Trim()).Distinct(StringComparer.Ordinal)];

    /// <param name="asSent">
    /// On update, the request before omitted fields took their stored values: the address lists are checked item by item
    /// only when named, so a value an earlier version stored and a later rule refuses does not block changing another
    /// field (the record as a whole is still checked: grants against redirect URIs, type against secret).
    /// </param>
    private static async Task<FieldErrors> ValidateAsync(
        ClientRequest request, string? clientId, bool isCreate, IOpenIddictScopeManager scopes, CancellationToken cancellationToken,
        ClientRequest? asSent = null)
    {
        var errors = new FieldErrors();
        if (string.IsNullOrWhiteSpace(clientId))
        {
            errors.Add("clientId", "The client id is required.");
        }
        else if (!ClientIdPattern().IsMatch(clientId))
        {
            errors.Add("clientId", "Use 1 to 100 letters, digits and . _ - ~ : only, and not only dots.");
        }

        if (!isCreate && request.ClientId is not null && request.ClientId != clientId)
        {
            errors.Add("clientId", "The client id cannot be changed.");
        }

        if (request.DisplayName is { Length: > 200 })
        {
            errors.Add("displayName", "At most 200 characters.");
        }

        var clientType = (request.ClientType ?? ClientTypes.Confidential).ToLowerInvariant();
        if (clientType is not (ClientTypes.Confidential or ClientTypes.Public))
        {
            errors.Add("clientType", "Use 'confidential' or 'public'.");
        }

        if (clientType == ClientTypes.Public && !string.IsNullOrEmpty(request.ClientSecret))
        {
            errors.Add("clientSecret", "Public clients have no secret.");
        }

        if (request.ClientSecret is { Length: > 0 and < MinimumSecretLength })
        {
            errors.Add("clientSecret", $"Secrets are at least {MinimumSecretLength} characters; leave it out to have one generated.");
        }

        // RFC 6749 A.2: client_secret = *VSCHAR. Other characters have no agreed encoding in HTTP Basic, and client
        // libraries refuse them or send them differently.
        if (request.ClientSecret?.Any(c => c is < '\x20' or > '\x7E') == true)
        {
            errors.Add("clientSecret", "Use printable ASCII characters only (space to '~').");
        }

        if (request.ConsentType is not null && request.ConsentType.ToLowerInvariant() is not (ConsentTypes.Explicit or ConsentTypes.Implicit))
        {
            errors.Add("consentType", "Use 'explicit' or 'implicit'.");
        }

        errors.RequireItems("grantTypes", request.GrantTypes);
        errors.RequireItems("scopes", request.Scopes);
        errors.RequireItems("redirectUris", request.RedirectUris);
        errors.RequireItems("postLogoutRedirectUris", request.PostLogoutRedirectUris);
        errors.RequireItems("allowedCorsOrigins", request.AllowedCorsOrigins);

        // A confidential client without grants or browser URLs is an API that only introspects (a resource server
        // needs no grant in Keycloak or Duende); any other client without a grant could do nothing.
        var grantTypes = Normalize(request.GrantTypes);
        var browserUrls = Normalize(request.RedirectUris).Count + Normalize(request.PostLogoutRedirectUris).Count + Normalize(request.AllowedCorsOrigins).Count;
        if (grantTypes.Count == 0 && (clientType == ClientTypes.Public || browserUrls > 0))
        {
            errors.Add("grantTypes", "At least one grant type is required, except for a confidential client without redirect URIs or CORS origins (an API that only introspects).");
        }

        foreach (var grantType in grantTypes.Where(g => !SupportedGrantTypes.Contains(g)))
        {
            errors.Add("grantTypes", $"'{grantType}' is not supported. Use {string.Join(", ", SupportedGrantTypes)}.");
        }

        if (clientType == ClientTypes.Public && grantTypes.Contains(GrantTypes.ClientCredentials))
        {
            errors.Add("grantTypes", "Public clients cannot use client_credentials.");
        }

        var redirectUris = Normalize(request.RedirectUris);
        if (grantTypes.Contains(GrantTypes.AuthorizationCode) && redirectUris.Count == 0)
        {
            errors.Add("redirectUris", "authorization_code needs at least one redirect URI.");
        }

        // On create every field is checked; on update those the request names. A change of type changes which addresses
        // are allowed (private-use schemes for public clients only): then all of them are checked.
        bool Named(object? field) => asSent is null || field is not null;
        var typeNamed = Named(asSent?.ClientType);
        if (typeNamed || Named(asSent?.RedirectUris))
        {
            ValidateUris(errors, "redirectUris", redirectUris, clientType == ClientTypes.Public);
        }

        if (typeNamed || Named(asSent?.PostLogoutRedirectUris))
        {
            ValidateUris(errors, "postLogoutRedirectUris", Normalize(request.PostLogoutRedirectUris), clientType == ClientTypes.Public);
        }

        foreach (var origin in typeNamed || Named(asSent?.AllowedCorsOrigins) ? Normalize(request.AllowedCorsOrigins) : [])
        {
            if (!IsPrintableAscii(origin))
            {
                errors.Add("allowedCorsOrigins", $"'{origin}' must be written in ASCII: browsers send an international domain name as xn--.");
            }
            else if (!Uri.TryCreate(origin.TrimEnd('/'), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
                || uri.AbsolutePath != "/" || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
            {
                errors.Add("allowedCorsOrigins", $"'{origin}' is not an origin (scheme://host[:port]).");
            }
        }

        // Back-Channel Logout 1.0, 2.2: an absolute URI, with no fragment; https but on loopback, as redirect URIs. The
        // server itself posts to it, so it is never a private-use scheme.
        if (Named(asSent?.BackChannelLogoutUri) && !string.IsNullOrWhiteSpace(request.BackChannelLogoutUri))
        {
            if (request.BackChannelLogoutUri.Trim().Length > 2000)
            {
                errors.Add("backChannelLogoutUri", "At most 2000 characters.");
            }
            else
            {
                ValidateUris(errors, "backChannelLogoutUri", [request.BackChannelLogoutUri.Trim()], isPublic: false);
            }
        }

        // Scopes kept from the stored client are not looked up: one deleted while this client was being saved with it
        // must not block every later change of the client.
        var requestedScopes = Named(asSent?.Scopes) ? Normalize(request.Scopes) : [];
        var unknown = requestedScopes.Where(s => !StandardScopes.Registered.Contains(s)).ToList();
        if (unknown.Count > 0)
        {
            var known = new HashSet<string>(StringComparer.Ordinal);
            await foreach (var scope in scopes.FindByNamesAsync([.. unknown], cancellationToken))
            {
                known.Add((await scopes.GetNameAsync(scope, cancellationToken))!);
            }

            foreach (var name in unknown.Where(n => !known.Contains(n)))
            {
                errors.Add("scopes", $"The scope '{name}' does not exist.");
            }
        }

        return errors;
    }

    private static void ValidateUris(FieldErrors errors, string field, IEnumerable<string> uris, bool isPublic)
    {
        // OpenIddict keeps them in a set of Uri, which counts "http://HOST/" and "http://host" (case, root slash,
        // default port) as one and would keep only the first, while requests are matched to the exact text.
        var seen = new Dictionary<Uri, string>();
        foreach (var value in uris)
        {
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
            {
                errors.Add(field, $"'{value}' is not an absolute URI.");
            }
            else if (!IsPrintableAscii(value))
            {
                errors.Add(field, $"'{value}' must be written in ASCII without spaces: percent-encode the path (caf%C3%A9) and write an international domain name as xn--.");
            }
            else if (!string.IsNullOrEmpty(uri.UserInfo) || AuthorityHasAt(value))
            {
                errors.Add(field, $"'{value}' must not carry a user name or password before its host.");
            }
            else if (!seen.TryAdd(uri, value))
            {
                errors.Add(field, $"'{value}' and '{seen[uri]}' are one address written two ways, and only one can be registered: "
                    + "keep the one your app sends (it is matched exactly).");
            }
            else if (!string.IsNullOrEmpty(uri.Fragment))
            {
                errors.Add(field, $"'{value}' must not have a fragment.");
            }
            else if (uri.Scheme == Uri.UriSchemeHttp ? !Loopback.IsLoopback(uri) : uri.Scheme != Uri.UriSchemeHttps && !(isPublic && IsPrivateUseScheme(uri)))
            {
                errors.Add(field, $"'{value}' must use https (plain http is allowed on loopback only; native apps may use a reverse-domain scheme such as com.example.app:/callback).");
            }
        }
    }

    /// <summary>A browser is sent to a URL as registered, and an HTTP header carries ASCII only.</summary>
    private static bool IsPrintableAscii(string value) => value.AsSpan().IndexOfAnyExceptInRange('!', '~') < 0;

    /// <summary>"http://@host/" has an empty user info, which Uri drops: the text is checked.</summary>
    private static bool AuthorityHasAt(string value)
    {
        var colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0 || !value.AsSpan(colon + 1).StartsWith("//", StringComparison.Ordinal))
        {
            return false;
        }

        var authority = value.AsSpan(colon + 3);
        var end = authority.IndexOfAny('/', '?', '#');
        return (end < 0 ? authority : authority[..end]).Contains('@');
    }

    /// <summary>
    /// RFC 8252 §7.1: a native (public) app may receive its redirect on a private-use scheme named after a domain it
    /// owns, reversed (com.example.app). Requiring the dot keeps out javascript:, data:, file: and the like.
    /// </summary>
    private static bool IsPrivateUseScheme(Uri uri) => uri.Scheme.Contains('.', StringComparison.Ordinal);

    // Not dots alone: the id is a segment of the admin API's URLs, where "." and ".." are resolved away.
    [GeneratedRegex(@"^(?!\.+\z)[A-Za-z0-9._~:-]{1,100}\z")]
    private static partial Regex ClientIdPattern();
}
