using System.Net;
using System.Security.Cryptography;
using IdentityServer.Keys;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;

namespace IdentityServer.Tests.Keys;

/// <summary>Refresh tokens that earlier versions encrypted with RSA keep working after the upgrade to symmetric keys.</summary>
public sealed class RsaEncryptedTokenUpgradeTests
{
    [Fact]
    public async Task A_refresh_token_an_earlier_version_encrypted_with_rsa_still_refreshes_after_the_upgrade()
    {
        var database = IdentityServerFactory.NewDatabaseName();
        TestClient client;
        string userId;
        string legacyRefreshToken;

        await using (var previous = new PreviousVersionHost(database))
        {
            var tokens = new TokenClient(previous);
            await previous.AddRsaEncryptionKeyAsync();
            client = await tokens.RegisterCodeClientAsync("upgraded-app");
            userId = await tokens.RegisterUserAsync("uma", "uma-password-1");
            var signIn = await tokens.LogInAndRedeemAsync(new BrowserSession(previous), client, "uma", "uma-password-1");
            legacyRefreshToken = signIn.Token("refresh_token");
            Assert.Equal("RSA-OAEP", new JsonWebToken(legacyRefreshToken).Alg);
        }

        await using var upgraded = new UpgradedHost(database);
        var again = new TokenClient(upgraded);
        var (status, refreshed) = await again.RefreshAsync(client, legacyRefreshToken);

        Assert.True(status == HttpStatusCode.OK, $"the RSA-encrypted refresh token was refused after the upgrade: {status} {refreshed}");
        Assert.Equal("A256KW", new JsonWebToken(refreshed.Token("refresh_token")).Alg);
        Assert.Equal(userId, (await again.ValidateAccessTokenAsync(refreshed.Token("access_token"))).Subject);
    }

    /// <summary>The server as it was before symmetric keys: OpenIddict's own choice among RSA keys only.</summary>
    private sealed class PreviousVersionHost(string databaseName) : IdentityServerFactory(databaseName)
    {
        protected override bool KeepDatabase => true;

        /// <summary>The RSA encryption key earlier versions created; this version no longer does.</summary>
        public async Task AddRsaEncryptionKeyAsync()
        {
            var now = Time.GetUtcNow();
            using var rsa = RSA.Create(2048);
            await using (var scope = Services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
                db.SigningKeys.Add(new SigningKey
                {
                    Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
                    Use = KeyUses.Encryption,
                    Algorithm = "RSA-OAEP",
                    PrivateKey = Convert.ToBase64String(rsa.ExportPkcs8PrivateKey()),
                    CreatedAt = now,
                    ActivatesAt = now - TimeSpan.FromMinutes(5),
                    ExpiresAt = now + TimeSpan.FromDays(90),
                    RetiresAt = now + TimeSpan.FromDays(120),
                });
                await db.SaveChangesAsync();
            }

            await Services.GetRequiredService<KeyRotation>().RefreshAsync(CancellationToken.None);
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.PostConfigure<OpenIddictServerOptions>(options =>
            {
                options.Handlers.RemoveAll(handler => handler.ServiceDescriptor.ServiceType == typeof(ChooseTokenKeys));
                options.SigningCredentials.RemoveAll(credentials => credentials.Key is SymmetricSecurityKey);
                options.EncryptionCredentials.RemoveAll(credentials => credentials.Key is SymmetricSecurityKey);
            }));
        }
    }

    private sealed class UpgradedHost(string databaseName) : IdentityServerFactory(databaseName);
}
