using IdentityServer.Hosting;
using Microsoft.Extensions.Options;
using OpenIddict.Server;

namespace IdentityServer.Keys;

public static class KeysExtensions
{
    public static IHostApplicationBuilder AddSigningKeys(this IHostApplicationBuilder builder)
    {
        builder.AddValidatedOptions<KeyOptions>(KeyOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<KeyOptions>, KeysOutliveTokens>();

        builder.Services.AddSingleton<KeyRing>();
        builder.Services.AddScoped<KeyStore>();
        builder.Services.AddHostedService<KeyRingLoader>();
        builder.Services.AddSingleton<KeyRotation>();
        builder.Services.AddHostedService(services => services.GetRequiredService<KeyRotation>());
        builder.Services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>, ConfigureServerKeys>();
        // RSA for access and ID tokens, symmetric keys for every token only this server reads.
        builder.Services.AddOpenIddict().AddServer(server => server.AddEventHandler(ChooseTokenKeys.Descriptor));
        return builder;
    }

    /// <summary>Loads the keys at start, after the schema is migrated and before the first request.</summary>
    private sealed class KeyRingLoader(KeyRotation rotation) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => rotation.RefreshAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>
    /// Every key of the ring validates: earlier keys keep accepting the tokens they protected until they retire, and
    /// the RSA encryption keys of earlier versions still decrypt their refresh tokens. OpenIddict publishes only the
    /// asymmetric signing keys in the JWKS.
    /// </summary>
    private sealed class ConfigureServerKeys(KeyRing ring) : IConfigureOptions<OpenIddictServerOptions>
    {
        public void Configure(OpenIddictServerOptions options)
        {
            foreach (var credentials in ring.SigningCredentials)
            {
                options.SigningCredentials.Add(credentials);
            }

            foreach (var credentials in ring.EncryptionCredentials)
            {
                options.EncryptionCredentials.Add(credentials);
            }
        }
    }
}
