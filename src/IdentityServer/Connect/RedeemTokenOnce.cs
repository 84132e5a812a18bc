using System.Security.Claims;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// Replaces OpenIddict's <see cref="OpenIddictServerHandlers.RedeemTokenEntry"/> so that an authorization code, a
/// refresh token, a device code or a user code is redeemed at most once even when two requests present it at the same
/// moment.
/// </summary>
/// <remarks>
/// Both requests can pass validation (the entry still says "valid") before either marks it redeemed. Marking it is
/// an optimistic-concurrency update on the entry's ConcurrencyToken (UPDATE ... WHERE Id = @id AND ConcurrencyToken
/// = @read), so exactly one request changes the row and the other gets a concurrency failure, when the update is
/// saved together with the new tokens (<see cref="TokenWrites"/>). OpenIddict's own handler deliberately ignores
/// that result for refresh tokens (it allows concurrent use within a reuse leeway), which let both racing refreshes
/// succeed although this server sets the leeway to zero.
/// Here the loser of a code, refresh token or device code is refused with invalid_grant and treated like any other
/// reuse: the tokens of its authorization are revoked, as OpenIddict does when a redeemed token comes back. The loser
/// of a user code (two tabs approving one device) is only told the code is no longer valid.
/// </remarks>
internal sealed partial class RedeemTokenOnce(IOpenIddictTokenManager tokens, TokenWrites writes, ILogger<RedeemTokenOnce> logger)
    : IOpenIddictServerHandler<ProcessSignInContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
            .AddFilter<OpenIddictServerHandlerFilters.RequireDegradedModeDisabled>()
            .AddFilter<OpenIddictServerHandlerFilters.RequireTokenStorageEnabled>()
            .UseScopedHandler<RedeemTokenOnce>()
            // The place of the handler it replaces: before any new token is generated for this request.
            .SetOrder(OpenIddictServerHandlers.RedeemTokenEntry.Descriptor.Order)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ProcessSignInContext context)
    {
        var authentication = context.Transaction.GetProperty<ProcessAuthenticationContext>(typeof(ProcessAuthenticationContext).FullName!)
            ?? throw new InvalidOperationException("The authentication context of the request is missing.");
        // Every single-use token a sign-in consumes: a code or refresh token (or a device code, once approved) at the
        // token endpoint, and the user code a user approves a device with.
        var (principal, kind) = context.EndpointType switch
        {
            OpenIddictServerEndpointType.Token when context.Request.IsAuthorizationCodeGrantType()
                => (authentication.AuthorizationCodePrincipal, "authorization code"),
            OpenIddictServerEndpointType.Token when context.Request.IsRefreshTokenGrantType()
                => (authentication.RefreshTokenPrincipal, "refresh token"),
            OpenIddictServerEndpointType.Token when context.Request.IsDeviceCodeGrantType()
                => (authentication.DeviceCodePrincipal, "device code"),
            OpenIddictServerEndpointType.EndUserVerification => (authentication.UserCodePrincipal, "user code"),
            _ => (null, string.Empty),
        };

        var identifier = principal?.GetTokenId();
        if (string.IsNullOrEmpty(identifier))
        {
            return;
        }

        var token = await tokens.FindByIdAsync(identifier, context.CancellationToken);
        if (token is null)
        {
            return;
        }

        // The status check catches a loser that read the entry after the winner committed; the conditional update
        // (at TokenWrites.Commit, with the new tokens) catches one that read it before.
        var redemption = new TokenWrites.Redemption(identifier, principal!.GetAuthorizationId(), kind);
        if (await tokens.HasStatusAsync(token, Statuses.Valid, context.CancellationToken)
            && await tokens.TryRedeemAsync(token, context.CancellationToken))
        {
            writes.Redeeming = redemption;
            return;
        }

        await RefuseConcurrentRedemptionAsync(context, tokens, logger, redemption);
    }

    /// <summary>
    /// The loser of a race (with another redemption, or with a revocation such as disabling the user) is treated like
    /// any reuse: its grant's tokens are revoked and it gets invalid_grant.
    /// </summary>
    internal static async Task RefuseConcurrentRedemptionAsync(
        ProcessSignInContext context, IOpenIddictTokenManager tokens, ILogger logger, TokenWrites.Redemption lost)
    {
        // A user code is not a grant: two tabs approving one device at once are no theft, and the grant the code names
        // is the device's, which the winner has just approved. The verification page says the code is no longer valid.
        if (context.EndpointType is OpenIddictServerEndpointType.EndUserVerification)
        {
            LogConcurrentApproval(logger, lost.TokenId);
            context.Reject(Errors.InvalidToken, $"The specified {lost.Kind} was redeemed or revoked by a concurrent request.");
            return;
        }

        LogConcurrentRedemption(logger, lost.TokenId, lost.AuthorizationId);
        if (!string.IsNullOrEmpty(lost.AuthorizationId))
        {
            await tokens.RevokeByAuthorizationIdAsync(lost.AuthorizationId, context.CancellationToken);
        }

        context.Reject(Errors.InvalidGrant, $"The specified {lost.Kind} was redeemed or revoked by a concurrent request.");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Token {TokenId} was redeemed or revoked by a concurrent request; refusing this one and revoking the tokens of authorization {AuthorizationId}.")]
    private static partial void LogConcurrentRedemption(ILogger logger, string tokenId, string? authorizationId);

    [LoggerMessage(Level = LogLevel.Information, Message = "User code {TokenId} was approved or refused by a concurrent request; refusing this one.")]
    private static partial void LogConcurrentApproval(ILogger logger, string tokenId);
}
