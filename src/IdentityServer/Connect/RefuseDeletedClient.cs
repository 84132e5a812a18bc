using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// A token or authorization request whose client an admin deletes while it runs (found at its start, gone before its
/// tokens are made) is refused, not a server error: OpenIddict throws when it cannot find the client to put in the
/// tokens. Read from the client cache, which a deletion through this instance empties at once (and another instance's
/// at this one's next poll); the steps after it see the client as found here. A token request gets
/// invalid_client; an authorization request the page an unknown client gets (<see cref="AnswerAsUnknownClient"/>).
/// </summary>
internal sealed partial class RefuseDeletedClient(IOpenIddictApplicationManager applications) : IOpenIddictServerHandler<ProcessSignInContext>
{
    public const string Description = "The client application no longer exists.";

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
            .UseScopedHandler<RefuseDeletedClient>()
            // Last thing before OpenIddict looks the client up to build the tokens.
            .SetOrder(OpenIddictServerHandlers.PrepareAccessTokenPrincipal.Descriptor.Order - 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ProcessSignInContext context)
    {
        if (context.EndpointType is OpenIddictServerEndpointType.Token or OpenIddictServerEndpointType.Authorization
            && !string.IsNullOrEmpty(context.ClientId)
            && await applications.FindCurrentByClientIdAsync(context.ClientId, context.CancellationToken) is null)
        {
            Refuse(context);
        }
    }

    /// <summary>Refuses a sign-in whose client is gone, as this endpoint answers for a client that does not exist.</summary>
    public static void Refuse(ProcessSignInContext context)
    {
        if (context.EndpointType is OpenIddictServerEndpointType.Authorization)
        {
            MarkGone(context.Transaction);
        }

        context.Reject(error: Errors.InvalidClient, description: Description);
    }

    private const string GoneProperty = ".client_deleted_meanwhile";

    /// <summary>Marks an authorization request whose client was deleted while it ran, for <see cref="AnswerAsUnknownClient"/>.</summary>
    public static void MarkGone(OpenIddictServerTransaction transaction) => transaction.Properties[GoneProperty] = true;

    /// <inheritdoc cref="MarkGone(OpenIddictServerTransaction)"/>
    public static void MarkGone(HttpContext http) =>
        MarkGone(http.Features.Get<OpenIddictServerAspNetCoreFeature>()?.Transaction
            ?? throw new InvalidOperationException("The OpenIddict server transaction cannot be retrieved."));

    /// <summary>
    /// An authorization request whose client was deleted while it ran gets what it would have got a moment later: the
    /// error page for an unknown client, never a redirect. OpenIddict validated the redirect_uri against the client
    /// before it was deleted and would send the error there; nothing was issued, and the deleted client has no
    /// address left to answer at.
    /// </summary>
    internal sealed partial class AnswerAsUnknownClient(ILogger<AnswerAsUnknownClient> logger) : IOpenIddictServerHandler<ApplyAuthorizationResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyAuthorizationResponseContext>()
                .UseScopedHandler<AnswerAsUnknownClient>()
                // Once OpenIddict has attached the validated redirect_uri, before the state and issuer go with it.
                .SetOrder(OpenIddictServerHandlers.Authentication.AttachRedirectUri.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ApplyAuthorizationResponseContext context)
        {
            if (!context.Transaction.Properties.ContainsKey(GoneProperty))
            {
                return default;
            }

            LogDeletedMeanwhile(logger, context.Request?.ClientId);
            context.RedirectUri = null;
            // OpenIddict's own answer for a client_id it does not know (its ID2052).
            context.Response.Error = Errors.InvalidRequest;
            context.Response.ErrorDescription = $"The specified '{Parameters.ClientId}' is invalid.";
            context.Response.ErrorUri = "https://documentation.openiddict.com/errors/ID2052";
            return default;
        }

        [LoggerMessage(Level = LogLevel.Information, Message = "Refused an authorization request for client {ClientId}: it was deleted while the request was handled.")]
        private static partial void LogDeletedMeanwhile(ILogger logger, string? clientId);
    }
}
