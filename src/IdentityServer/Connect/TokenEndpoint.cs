using System.Collections.Immutable;
using System.Security.Claims;
using IdentityServer.Hosting;
using IdentityServer.Users;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

/// <summary>
/// The token endpoint after OpenIddict has authenticated the client and validated the grant. Here we decide
/// who the token is about: the client itself, or a user who must still be allowed to sign in.
/// </summary>
internal static class TokenEndpoint
{
    public static void MapTokenEndpoint(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPost(ConnectPaths.Token, ExchangeAsync).ExcludeFromDescription();

    private static async Task<IResult> ExchangeAsync(
        HttpContext context,
        IOpenIddictApplicationManager applications,
        IOpenIddictScopeManager scopes,
        UserManager<ApplicationUser> users,
        ApplicationSignInManager signIn,
        UserPrincipalFactory principals,
        PasswordGrantLimiter passwordGuesses,
        SignInAttempts attempts,
        TokenWrites writes,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var request = context.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("The OpenIddict server request cannot be retrieved.");

        if (request.IsClientCredentialsGrantType())
        {
            // Authenticated a moment ago, but an admin may have deleted it since.
            if (await applications.FindByClientIdAsync(request.ClientId!, cancellationToken) is not { } application)
            {
                return ClientGone();
            }

            var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
            identity.SetClaim(Claims.Subject, request.ClientId)
                .SetClaim(Claims.Name, await applications.GetDisplayNameAsync(application, cancellationToken));
            // The user scopes (openid, profile, email, roles, offline_access) describe a person, and a client acting as
            // itself is none: refused as in Duende, so it never gets an ID token about itself or a refresh token that
            // no refresh could honour (RFC 6749 4.4.3: no refresh token here).
            var granted = request.GetScopes();
            if (granted.FirstOrDefault(StandardScopes.Registered.Contains) is { } userScope)
            {
                return Refuse(Errors.InvalidScope, $"The '{userScope}' scope is for users; a client signing in as itself cannot ask for it.");
            }

            // No scope asked for means every scope the client may use for itself, as in Keycloak and Duende.
            if (granted.IsEmpty)
            {
                granted = [.. await StandardScopes.ListedAsync(applications, application, cancellationToken)];
            }

            identity.SetScopes(granted);
            identity.SetResources(await StandardScopes.ResourcesAsync(scopes, identity.GetScopes(), cancellationToken));
            if (!ResourceIndicators.TryNarrow(identity, request))
            {
                return Refuse(Errors.InvalidTarget, ResourceIndicators.NotAnAudience);
            }

            identity.SetDestinations(static claim => claim.Type == Claims.Name ? [Destinations.AccessToken] : []);
            return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        }

        if (request.IsPasswordGrantType())
        {
            using var lease = passwordGuesses.MayTry(context);
            if (!lease.IsAcquired)
            {
                await RateLimiting.RejectProtocolRequestAsync(context, lease, cancellationToken);
                return Results.Empty;
            }

            var user = await users.FindByNameAsync(request.Username ?? string.Empty)
                ?? await users.FindByEmailAsync(request.Username ?? string.Empty);
            if (user is null)
            {
                await signIn.SpendOnePasswordCheckAsync(request.Password ?? string.Empty);
                passwordGuesses.CountFailure(context);
                await attempts.UnknownUserAsync();
                return InvalidGrant("The username or password is incorrect.");
            }

            var result = await signIn.CheckPasswordSignInAsync(user, request.Password ?? string.Empty, lockoutOnFailure: true);
            if (!result.Succeeded)
            {
                passwordGuesses.CountFailure(context);
                await attempts.RefusedAsync(user, result);
                return InvalidGrant("The username or password is incorrect.");
            }

            var requested = request.GetScopes();
            if (requested.IsEmpty && await applications.FindByClientIdAsync(request.ClientId!, cancellationToken) is { } application)
            {
                requested = [.. await StandardScopes.UserDefaultsAsync(applications, application, cancellationToken)];
            }

            var identity = await principals.CreateAsync(user, requested, time.GetUtcNow(), cancellationToken);
            if (UserPrincipalFactory.GrantsNoneRequested(identity, requested))
            {
                return Refuse(Errors.InvalidScope, UserPrincipalFactory.NoRequestedScopeGrantable);
            }

            // The user was read before the deliberately slow password check: an admin may have disabled or deleted
            // them since, and this grant redeems nothing whose revocation would stop it later. Read them again.
            if (await principals.FindActiveUserAsync(new ClaimsPrincipal(identity), signIn, cancellationToken) is not { } active)
            {
                return InvalidGrant("The user is no longer allowed to sign in.");
            }

            writes.CheckedUser = active;

            if (!ResourceIndicators.TryNarrow(identity, request))
            {
                return Refuse(Errors.InvalidTarget, ResourceIndicators.NotAnAudience);
            }

            await attempts.SucceededAsync(user);
            return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        }

        // A device code (RFC 8628) carries the grant its user approved on the verification page, as a code does.
        if (request.IsAuthorizationCodeGrantType() || request.IsRefreshTokenGrantType() || request.IsDeviceCodeGrantType())
        {
            var authenticated = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
            if (authenticated.Principal is not { } principal)
            {
                return InvalidGrant("The token is no longer valid.");
            }

            // Every redemption re-reads the user: deleted, disabled or re-passworded users get nothing.
            if (await principals.FindActiveUserAsync(principal, signIn, cancellationToken) is not { } active)
            {
                return InvalidGrant("The user is no longer allowed to sign in.");
            }

            var identity = new ClaimsIdentity(principal.Claims, TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
            UserPrincipalFactory.RefreshUserClaims(identity, active.User, active.Roles);
            if (await applications.FindByClientIdAsync(request.ClientId!, cancellationToken) is not { } client)
            {
                return ClientGone();
            }

            await KeepScopesTheClientStillHasAsync(identity, client, applications, scopes, cancellationToken);

            if (identity.GetClaim(Users.BrowserSessions.SessionIdClaim) is { } sessionId)
            {
                // A code issued just before its browser session ended, redeemed after: the apps were told of the end
                // already, so this session must not start in one of them now (as Keycloak refuses it).
                if (request.IsAuthorizationCodeGrantType()
                    && await context.RequestServices.GetRequiredService<Users.BrowserSessions>().HasEndedAsync(sessionId, cancellationToken))
                {
                    return InvalidGrant("The browser session this code was issued in has ended.");
                }

                // An app's session may live on its refresh tokens for weeks after the browser signed in: it stays one
                // that back-channel logout announces (see BackChannelLogout.SeenAsync).
                if (request.IsRefreshTokenGrantType()
                    && BackChannelLogout.UriOf(await applications.GetPropertiesAsync(client, cancellationToken)) is not null)
                {
                    await context.RequestServices.GetRequiredService<BackChannelLogout>()
                        .SeenAsync(sessionId, (await applications.GetIdAsync(client, cancellationToken))!, cancellationToken);
                }
            }

            // Audiences follow the scopes the access token will carry. A refresh may ask for fewer than the grant holds:
            // OpenIddict narrows the access token's scopes (and refuses any beyond the grant) but not its audiences. The
            // refresh token keeps every scope, and the next refresh takes its audiences from them again.
            ImmutableArray<string> accessTokenScopes = request.IsRefreshTokenGrantType() && request.Scope is not null
                ? [.. identity.GetScopes().Where(request.GetScopes().Contains)]
                : identity.GetScopes();
            // ...within the resources the authorization request named, if it did, then those this request names.
            identity.SetResources(ResourceIndicators.WithinTheGrant(
                identity, await StandardScopes.ResourcesAsync(scopes, accessTokenScopes, cancellationToken)));
            if (!ResourceIndicators.TryNarrow(identity, request))
            {
                return Refuse(Errors.InvalidTarget, ResourceIndicators.NotAnAudience);
            }

            UserPrincipalFactory.SetDestinations(identity, accessTokenScopes);

            // Removing the admin role revokes the user's access tokens but not this redemption's code or refresh token,
            // so a redemption that read the role before that revocation would save a working admin token after it. Read
            // the user again once the tokens are saved, as the password grant does, but only when the access token
            // carries the admin scope: the admin API trusts nothing else a role gives, and every other refresh (the
            // benchmarked hot path) is spared the extra query.
            if (accessTokenScopes.Contains(StandardScopes.Admin))
            {
                writes.CheckedUser = active;
            }

            return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        }

        return Refuse(Errors.UnsupportedGrantType, "The grant type is not supported.");
    }

    /// <summary>
    /// A grant's scopes are checked against the client when it is given; a refresh chain would otherwise keep a
    /// scope an admin has since withdrawn from the client or deleted, and its audience, for as long as it is used.
    /// The new tokens get what the client may have now, as in Keycloak. (OpenIddict checks only a scope parameter.)
    /// The caller sets the audiences, from the scopes the access token carries.
    /// </summary>
    private static async Task KeepScopesTheClientStillHasAsync(
        ClaimsIdentity identity, object application, IOpenIddictApplicationManager applications, IOpenIddictScopeManager scopes,
        CancellationToken cancellationToken)
    {
        var granted = identity.GetScopes();
        // Read from memory (the scope manager's cache), like every scope check of a token request.
        var stored = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var scope in scopes.FindByNamesAsync([.. granted.Where(name => !StandardScopes.Registered.Contains(name))], cancellationToken))
        {
            stored.Add((await scopes.GetNameAsync(scope, cancellationToken))!);
        }

        var kept = new List<string>();
        foreach (var scope in granted)
        {
            if (await StandardScopes.IsPermittedAsync(applications, application, scope, cancellationToken)
                && (StandardScopes.Registered.Contains(scope) || stored.Contains(scope)))
            {
                kept.Add(scope);
            }
        }

        identity.SetScopes(kept);
    }

    /// <summary>The same answer as <see cref="RefuseDeletedClient"/> gives when the client vanishes a moment later.</summary>
    private static IResult ClientGone() => Refuse(Errors.InvalidClient, RefuseDeletedClient.Description);

    private static IResult InvalidGrant(string description) => Refuse(Errors.InvalidGrant, description);

    private static IResult Refuse(string error, string description) =>
        Results.Forbid(
            new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
            }),
            [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
}
