using IdentityServer.Hosting;
using Microsoft.Extensions.Options;
using OpenIddict.Server;

namespace IdentityServer.Keys;

public static class KeysExtensions
{
    public static IHostApplicationBuilder AddSigningKeys(this IHostApplicationBuilder builder)
    {
        builder.AddValidatedOptions<KeyOptions>(KeyOptions.SectionName);

        builder.Services.AddSingleton<KeyRing>();
        builder.Services.AddScoped<KeyStore>();
        builder.Services.AddHostedService<KeyRingLoader>();
        builder.Services.AddSingleton<KeyRotation>();
        builder.Services.AddHostedService(services => services.GetRequiredService<KeyRotation>());
        builder.Services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>, ConfigureServerKeys>();
        return builder;
    }

    /// <summary>Loads the keys at start, after the schema is migrated and before the first request.</summary>
    private sealed class KeyRingLoader(KeyRotation rotation) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => rotation.RefreshAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

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
