using System.Security.Claims;
using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;

namespace IdentityServer.Connect;

/// <summary>A user's authorization of a client: a grant that ties its tokens into one chain, or a remembered consent.</summary>
internal static class Grants
{
    /// <summary>
    /// Stores the authorization; null if an admin deleted the client since it was read: OpenIddict's store then finds no
    /// client to link it to and saves the row without one, or the row breaks a foreign key (the deletion landed between
    /// that lookup and the INSERT).
    /// </summary>
    public static async Task<object?> CreateAsync(
        IOpenIddictAuthorizationManager authorizations, IOpenIddictApplicationManager applications, ApplicationDbContext db,
        ClaimsIdentity identity, string subject, string applicationId, string clientId, string type, CancellationToken cancellationToken)
    {
        try
        {
            var authorization = await authorizations.CreateAsync(identity, subject, applicationId, type, identity.GetScopes(), cancellationToken);
            if (await authorizations.GetApplicationIdAsync(authorization, cancellationToken) is null)
            {
                // A consent or grant of no client: removed rather than left valid.
                await authorizations.DeleteAsync(authorization, CancellationToken.None);
                return null;
            }

            return authorization;
        }
        catch (DbUpdateException)
        {
            if (!await applications.WasDeletedAfterRefusedSaveAsync(db, clientId, cancellationToken))
            {
                throw;
            }

            return null;
        }
    }
}
