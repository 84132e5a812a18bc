using IdentityServer.Hosting;
using IdentityServer.Persistence;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Connect;

public static class ConnectExtensions
{
    public static IHostApplicationBuilder AddConnect(this IHostApplicationBuilder builder)
    {
        builder.AddValidatedOptions<ConnectOptions>(ConnectOptions.SectionName);

        builder.Services.AddScoped<UserPrincipalFactory>();
        builder.Services.AddScoped<BackChannelLogout>();
        // Bounded by BackChannelLogout itself (on the server's clock), not by HttpClient's 100 s; no redirects or cookies.
        builder.Services.AddHttpClient(BackChannelLogout.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false });
        builder.Services.AddScoped<TokenWrites>();
        builder.Services.AddSingleton(typeof(MetadataCache<>));
        // One instance, reachable both as a hosted service and by type (the caches subscribe to it, the tests wait on it).
        builder.Services.AddSingleton<RegistrationChanges>();
        builder.Services.AddHostedService(services => services.GetRequiredService<RegistrationChanges>());
        builder.Services.AddSingleton<VerifiedClientSecrets>();
        builder.Services.AddSingleton<DevicePolling>();
        builder.Services.AddCors();
        builder.Services.AddScoped<Microsoft.AspNetCore.Cors.Infrastructure.ICorsPolicyProvider, ClientCorsPolicyProvider>();

        builder.Services.AddOpenIddict()
            .AddCore(core =>
            {
                core.UseEntityFrameworkCore().UseDbContext<ApplicationDbContext>();
                // Clients are read from memory at token requests, and generated (256-bit) client secrets are checked with
                // one SHA-256 instead of PBKDF2; see ClientApplicationManager and ClientSecretHashing.
                core.ReplaceApplicationManager<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreApplication, ClientApplicationManager>();
                // Scopes (names and resources) are read from memory, not the database, at every token request.
                core.ReplaceScopeManager<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreScope, CachingScopeManager>();
                // A sign-in's token rows (a redemption, the new tokens) are saved together at its end; see TokenWrites.
                core.ReplaceTokenStore<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreToken, TokenWrites.Store>(ServiceLifetime.Scoped);
            })
            .AddServer(server =>
            {
                // Relative to the issuer, hence without the leading slash.
                server.SetAuthorizationEndpointUris(ConnectPaths.Authorize[1..])
                    .SetTokenEndpointUris(ConnectPaths.Token[1..])
                    .SetUserInfoEndpointUris(ConnectPaths.UserInfo[1..])
                    .SetIntrospectionEndpointUris(ConnectPaths.Introspect[1..])
                    .SetRevocationEndpointUris(ConnectPaths.Revoke[1..])
                    .SetEndSessionEndpointUris(ConnectPaths.EndSession[1..])
                    .SetDeviceAuthorizationEndpointUris(ConnectPaths.DeviceAuthorization[1..])
                    .SetEndUserVerificationEndpointUris(ConnectPaths.Verify[1..])
                    .SetConfigurationEndpointUris(ConnectPaths.OpenIdConfiguration[1..], ConnectPaths.AuthorizationServerMetadata[1..])
                    .SetJsonWebKeySetEndpointUris(ConnectPaths.Jwks[1..]);

                server.AllowAuthorizationCodeFlow()
                    .AllowRefreshTokenFlow()
                    .AllowClientCredentialsFlow()
                    // Enabled server-wide, but a client may use it only when an admin grants it the permission.
                    .AllowPasswordFlow()
                    // Likewise: only clients an admin registers with the device_code grant (see Connect/Verify).
                    .AllowDeviceAuthorizationFlow();

                server.RegisterScopes([.. StandardScopes.Registered]);
                server.RegisterClaims(
                    Claims.Subject, Claims.Name, Claims.PreferredUsername, Claims.Email, Claims.EmailVerified,
                    Claims.Role, Claims.AuthenticationTime, Users.BrowserSessions.SessionIdClaim);
                server.RegisterPromptValues(PromptValues.Create);

                // Resource APIs validate access tokens themselves from the JWKS: signed, never encrypted.
                server.DisableAccessTokenEncryption();

                // A refresh token works exactly once; a second use is treated as theft and revokes the chain.
                server.SetRefreshTokenReuseLeeway(TimeSpan.Zero);
                // ...and that holds under concurrent use too (OpenIddict's handler lets racing refreshes both win).
                server.RemoveEventHandler(OpenIddictServerHandlers.RedeemTokenEntry.Descriptor);
                server.AddEventHandler(RedeemTokenOnce.Descriptor);
                server.AddEventHandler(TokenWrites.Begin.Descriptor);
                server.AddEventHandler(TokenWrites.Commit.Descriptor);
                server.AddEventHandler(TokenWrites.Abandon.Descriptor);
                server.AddEventHandler(BackChannelLogout.Advertise.Descriptor);
                server.AddEventHandler(RefuseDeletedClient.Descriptor);
                server.AddEventHandler(RefuseDeletedClient.AnswerAsUnknownClient.Descriptor);
                // Revoking a refresh token ends its whole grant, access tokens included.
                server.AddEventHandler(EndGrantOnRefreshTokenRevocation.Descriptor);
                server.RemoveEventHandler(IntrospectionByConfidentialClients.AuthorizedParty.Replaced);
                server.AddEventHandler(IntrospectionByConfidentialClients.AuthorizedParty.Descriptor);
                server.AddEventHandler(IntrospectionByConfidentialClients.Answer.Descriptor);
                server.AddEventHandler(OneAttemptPerCode.Descriptor);
                server.AddEventHandler(IdTokenOnlyWithOpenId.Descriptor);
                foreach (var handler in IgnoredParameters.Descriptors)
                {
                    server.AddEventHandler(handler);
                }

                ProtocolErrors.Register(server);
                ResourceIndicators.Register(server);
                foreach (var handler in ErrorPages.Descriptors)
                {
                    server.AddEventHandler(handler);
                }

                server.AddEventHandler(FormPostPage.Descriptor);
                foreach (var handler in DeviceRequests.Descriptors)
                {
                    server.AddEventHandler(handler);
                }

                foreach (var handler in WellFormedRequests.Descriptors)
                {
                    server.AddEventHandler(handler);
                }

                server.RemoveEventHandler(DiscoveryMethods<OpenIddictServerEvents.ExtractConfigurationRequestContext>.Replaced);
                server.AddEventHandler(DiscoveryMethods<OpenIddictServerEvents.ExtractConfigurationRequestContext>.Descriptor);
                server.RemoveEventHandler(DiscoveryMethods<OpenIddictServerEvents.ExtractJsonWebKeySetRequestContext>.Replaced);
                server.AddEventHandler(DiscoveryMethods<OpenIddictServerEvents.ExtractJsonWebKeySetRequestContext>.Descriptor);
                server.RemoveEventHandler(UserInfoEndpoint.ExtractRequest.Replaced);
                server.AddEventHandler(UserInfoEndpoint.ExtractRequest.Descriptor);
                server.AddEventHandler(DiscoveryFollowsTheIssuer.Descriptor);
                foreach (var handler in IssuerAsAnOrigin.Descriptors)
                {
                    server.AddEventHandler(handler);
                }

                // Identity tokens and a client's own access tokens need no database row; see TokenStoragePolicy.
                server.AddEventHandler(TokenStoragePolicy.Descriptor);
                server.AddEventHandler(TokenStoragePolicy.RequireExistingClient.Descriptor);

                server.UseAspNetCore()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableTokenEndpointPassthrough()
                    .EnableUserInfoEndpointPassthrough()
                    .EnableEndSessionEndpointPassthrough()
                    .EnableEndUserVerificationEndpointPassthrough()
                    // Plain HTTP is refused off loopback by TransportSecurity, which knows about trusted proxies.
                    .DisableTransportSecurityRequirement()
                    // RFC 7617 2: a Basic challenge (401 invalid_client) names a realm.
                    .SetRealm("IdentityServer");

                server.AddEventHandler<OpenIddictServerEvents.HandleConfigurationRequestContext>(handler =>
                    handler.UseScopedHandler<AdvertiseStoredScopes>());
                server.AddEventHandler<OpenIddictServerEvents.ApplyTokenResponseContext>(handler =>
                    handler.UseScopedHandler<RecordTokenReplay>());
            })
            .AddValidation(validation =>
            {
                validation.UseLocalServer();
                // Check each token against its database entry, so a token revoked by deleting its client or user
                // (or by revocation) stops opening the admin API at once rather than when it expires.
                validation.EnableTokenEntryValidation();
                // The admin API reads its bearer token from the Authorization header only: tokens in URLs and forms end
                // up in logs, browser history and Referer headers (RFC 6750 2.3, RFC 9700).
                validation.UseAspNetCore()
                    .DisableAccessTokenExtractionFromQueryString()
                    .DisableAccessTokenExtractionFromBodyForm();
            });

        builder.Services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>, ConfigureServerFromOptions>();
        // OpenIddict's events, dispatched without walking every handler for each of them; see IndexedServerDispatcher.
        var registrations = builder.Services;
        builder.Services.AddSingleton(provider => new ServerHandlerIndex(
            provider.GetRequiredService<IOptionsMonitor<OpenIddictServerOptions>>(), provider, registrations));
        builder.Services.Replace(ServiceDescriptor.Scoped<IOpenIddictServerDispatcher, IndexedServerDispatcher>());
        builder.Services.AddSingleton<IssuerAsAnOrigin>();
        builder.Services.AddSingleton<OneAttemptPerCode.RefusedCodeRedemption>();
        builder.Services.AddSingleton<ProtocolErrors.NoClientCredentials.WithoutASecret>();
        builder.Services.AddSingleton<DeviceRequests.RefuseUsedCodes.CodePresented>();
        return builder;
    }

    public static IEndpointRouteBuilder MapConnect(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapTokenEndpoint();
        endpoints.MapUserInfoEndpoint();
        endpoints.MapEndSessionEndpoint();
        return endpoints;
    }

    private sealed class ConfigureServerFromOptions(IOptions<ConnectOptions> options, TimeProvider time)
        : IConfigureOptions<OpenIddictServerOptions>
    {
        public void Configure(OpenIddictServerOptions server)
        {
            var connect = options.Value;
            server.Issuer = connect.Issuer;
            server.AccessTokenLifetime = connect.AccessTokenLifetime;
            server.IdentityTokenLifetime = connect.IdentityTokenLifetime;
            server.AuthorizationCodeLifetime = connect.AuthorizationCodeLifetime;
            server.RefreshTokenLifetime = connect.RefreshTokenLifetime;
            server.TimeProvider = time;

            // PKCE "plain" offers no protection against a stolen code; only S256 is accepted.
            server.CodeChallengeMethods.Remove(CodeChallengeMethods.Plain);
            // No client can register a key set here, so a client assertion could never be verified: discovery must not
            // offer private_key_jwt (OpenIddict lists it by default), and a client that sends one gets a clear refusal.
            server.ClientAuthenticationMethods.Remove(ClientAuthenticationMethods.PrivateKeyJwt);
        }
    }
}
