using IdentityServer.Admin;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>
/// Writes a security event when OpenIddict refuses an already-redeemed refresh token (ID2012) or authorization
/// code (ID2010): a sign that a token was stolen. OpenIddict has already revoked the tokens of that grant.
/// </summary>
internal sealed class RecordTokenReplay(AuditTrail audit) : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyTokenResponseContext>
{
    public async ValueTask HandleAsync(OpenIddictServerEvents.ApplyTokenResponseContext context)
    {
        if (context.Response.Error != Errors.InvalidGrant || context.Response.ErrorUri is not { } errorUri)
        {
            return;
        }

        var action = errorUri.EndsWith("ID2012", StringComparison.Ordinal) ? "refresh_token.reuse_detected"
            : errorUri.EndsWith("ID2010", StringComparison.Ordinal) ? "authorization_code.replay_detected"
            : null;
        if (action is not null)
        {
            await audit.RecordAsync(context.Request?.ClientId ?? "unknown-client", action, context.Request?.ClientId ?? "unknown-client");
        }
    }
}
