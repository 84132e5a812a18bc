using System.Security.Claims;
using System.Text.Json;
using IdentityServer.Connect;
using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore.Models;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Admin;

/// <summary>A remembered consent: the scopes a user agreed to give a client, so that its next sign-in asks nothing.</summary>
public sealed record ConsentResponse(string ClientId, IReadOnlyList<string> Scopes, DateTimeOffset? GivenAt);

/// <summary>
/// A user's remembered consents, as Keycloak's consents of a user: listed, and revoked per client. Revoking one also
/// ends what the client holds for the user (the grants of its sign-ins and their tokens), so that the app must send
/// the user back, who is asked again.
/// </summary>
internal static class UserConsentsEndpoints
{
    public static RouteGroupBuilder MapUserConsents(this RouteGroupBuilder users)
    {
        users.MapGet("/{id}/consents", ListAsync).WithName("ListUserConsents")
            .Produces<IReadOnlyList<ConsentResponse>>().ProducesProblem(StatusCodes.Status404NotFound);
        users.MapDelete("/{id}/consents/{clientId}", RevokeAsync).WithName("RevokeUserConsent")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        return users;
    }

    private static async Task<IResult> ListAsync(string id, ApplicationDbContext db, CancellationToken cancellationToken)
    {
        if (!await db.Users.AsNoTracking().AnyAsync(user => user.Id == id, cancellationToken))
        {
            return AdminProblems.NotFound("User", id);
        }

        // One query, the clients' ids joined in.
        var consents = await db.Set<OpenIddictEntityFrameworkCoreAuthorization>().AsNoTracking()
            .Where(authorization => authorization.Subject == id && authorization.Type == AuthorizationTypes.Permanent
                && authorization.Status == Statuses.Valid && authorization.Application != null)
            .Select(authorization => new { authorization.Application!.ClientId, authorization.Scopes, authorization.CreationDate })
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(consents
            .Select(consent => new ConsentResponse(
                consent.ClientId!,
                string.IsNullOrEmpty(consent.Scopes) ? [] : JsonSerializer.Deserialize<string[]>(consent.Scopes) ?? [],
                consent.CreationDate is { } given ? new DateTimeOffset(DateTime.SpecifyKind(given, DateTimeKind.Utc)) : null))
            .OrderBy(consent => consent.ClientId, StringComparer.Ordinal)
            .ThenBy(consent => consent.GivenAt)
            .ToList());
    }

    private static async Task<IResult> RevokeAsync(
        string id, string clientId, ApplicationDbContext db, IOpenIddictApplicationManager applications,
        IOpenIddictAuthorizationManager authorizations, IOpenIddictTokenManager tokens, Connect.BackChannelLogout backChannelLogout,
        AuditTrail audit, ClaimsPrincipal actor, CancellationToken cancellationToken)
    {
        if (!await db.Users.AsNoTracking().AnyAsync(user => user.Id == id, cancellationToken))
        {
            return AdminProblems.NotFound("User", id);
        }

        if (await applications.FindStoredByClientIdAsync(clientId, cancellationToken) is not { } application)
        {
            return AdminProblems.NotFound("Client", clientId);
        }

        // Every grant of the user to the client, remembered consents and the sign-ins' own, and the tokens issued from
        // them: a refresh token would otherwise keep the app in without the consent. Saved once begun: the caller
        // hanging up must not leave half of it.
        var applicationId = await applications.GetIdAsync(application, cancellationToken);
        await authorizations.RevokeAsync(id, applicationId, status: null, type: null, CancellationToken.None);
        await tokens.RevokeAsync(id, applicationId, status: null, type: null, CancellationToken.None);
        // The app's sessions of the user have nothing left to refresh with: it hears so now (back-channel logout), as
        // Keycloak ends the client's sessions of the user with the consent.
        await backChannelLogout.ClientSessionsOfUserEndedAsync(id, applicationId!);

        await audit.RecordAsync(actor, "user.consent_revoked", id, new { clientId });
        return TypedResults.NoContent();
    }
}
