using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// An authorization code is good for one attempt, as with Keycloak and Duende: when its own client presents it and the
/// redemption is refused after the code itself was found good (a wrong or missing code_verifier, another redirect_uri),
/// the code is revoked, so a guessed verifier gets no second try. A code presented by another client is refused and
/// stays usable by its own client (a thief can neither spend it nor spoil it).
/// </summary>
internal sealed class OneAttemptPerCode(IOpenIddictTokenManager tokens) : IOpenIddictServerHandler<ApplyTokenResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
            .AddFilter<RefusedCodeRedemption>()
            .UseScopedHandler<OneAttemptPerCode>()
            .SetOrder(int.MinValue + 100_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ApplyTokenResponseContext context)
    {
        if (context.Transaction.GetProperty<ValidateTokenRequestContext>(typeof(ValidateTokenRequestContext).FullName!)
                is not { IsRejected: true, AuthorizationCodePrincipal: { } code }
            || context.Request!.ClientId is not { Length: > 0 } clientId || !code.HasPresenter(clientId)
            || code.GetTokenId() is not { Length: > 0 } tokenId
            || await tokens.FindByIdAsync(tokenId, context.CancellationToken) is not { } entry
            || !await tokens.HasStatusAsync(entry, Statuses.Valid, context.CancellationToken))
        {
            return;
        }

        await tokens.TryRevokeAsync(entry, context.CancellationToken);
    }

    /// <summary>Only refused code redemptions reach the handler, which would otherwise be built for every token response.</summary>
    internal sealed class RefusedCodeRedemption : IOpenIddictServerHandlerFilter<ApplyTokenResponseContext>
    {
        public ValueTask<bool> IsActiveAsync(ApplyTokenResponseContext context) =>
            ValueTask.FromResult(!string.IsNullOrEmpty(context.Error) && context.Request?.IsAuthorizationCodeGrantType() == true);
    }
}
