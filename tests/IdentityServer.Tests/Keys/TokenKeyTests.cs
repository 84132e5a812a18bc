using System.Net;
using System.Text.Json;
using IdentityServer.Keys;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;

namespace IdentityServer.Tests.Keys;

/// <summary>Which key protects which token: RSA for what others validate, symmetric keys for what only this server reads.</summary>
public sealed class TokenKeyTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task The_jwks_publishes_only_the_rsa_signing_keys_and_never_a_symmetric_key()
    {
        // A token of every kind has been issued, so every key is in use.
        var client = await tokens.RegisterCodeClientAsync("jwks-only-rsa");
        await tokens.RegisterUserAsync("jasper", "jasper-password-1");
        await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "jasper", "jasper-password-1");

        using var response = await tokens.Http.GetAsync("/.well-known/jwks");
        var text = await response.Content.ReadAsStringAsync();
        var keys = JsonDocument.Parse(text).RootElement.GetProperty("keys").EnumerateArray().ToList();
        var stored = await StoredKeysAsync();

        Assert.NotEmpty(keys);
        Assert.All(keys, key =>
        {
            Assert.Equal("RSA", key.GetProperty("kty").GetString());
            Assert.Equal("sig", key.GetProperty("use").GetString());
            Assert.False(key.TryGetProperty("k", out _), "a symmetric key's secret was published");
            Assert.False(key.TryGetProperty("d", out _), "an RSA private key was published");
        });
        Assert.Equal(
            stored.Where(k => k.Use == KeyUses.Signing).Select(k => k.Id).Order(StringComparer.Ordinal),
            keys.Select(k => k.GetProperty("kid").GetString()).Order(StringComparer.Ordinal));
        foreach (var secret in stored.Where(k => KeyUses.IsSymmetric(k.Use)))
        {
            Assert.DoesNotContain(secret.Id, text, StringComparison.Ordinal);
            Assert.DoesNotContain(Base64UrlEncoder.Encode(Convert.FromBase64String(secret.PrivateKey)), text, StringComparison.Ordinal);
        }

        using var discovery = await tokens.Http.GetAsync("/.well-known/openid-configuration");
        var algorithms = (await TokenClient.ReadJsonAsync(discovery)).GetProperty("id_token_signing_alg_values_supported");
        Assert.Equal(["RS256"], algorithms.EnumerateArray().Select(a => a.GetString()).Distinct());
    }

    [Fact]
    public async Task Access_and_id_tokens_are_RS256_with_a_published_kid_and_never_encrypted()
    {
        var client = await tokens.RegisterCodeClientAsync("rsa-public-tokens");
        await tokens.RegisterUserAsync("jolene", "jolene-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "jolene", "jolene-password-1");
        var refreshed = await tokens.RefreshAsync(client, body.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.OK, refreshed.Status);
        var clientCredentials = await tokens.AdminTokenAsync();

        foreach (var accessToken in new[] { body.Token("access_token"), refreshed.Body.Token("access_token"), clientCredentials })
        {
            var access = new JsonWebToken(accessToken);
            Assert.False(access.IsEncrypted);
            Assert.Equal("RS256", access.Alg);
            Assert.Equal("at+jwt", access.Typ);
            await tokens.ValidateAccessTokenAsync(accessToken);
        }

        foreach (var idToken in new[] { body.Token("id_token"), refreshed.Body.Token("id_token") })
        {
            var id = new JsonWebToken(idToken);
            Assert.False(id.IsEncrypted);
            Assert.Equal("RS256", id.Alg);
            var validated = await tokens.ValidateAsync(idToken, audience: client.ClientId, tokenType: "JWT");
            Assert.True(validated.IsValid, $"id token invalid against the JWKS: {validated.Exception}");
        }
    }

    [Fact]
    public async Task Codes_and_refresh_tokens_are_signed_with_HS256_and_encrypted_with_a_key_that_is_never_published()
    {
        var client = await tokens.RegisterCodeClientAsync("symmetric-internal-tokens");
        await tokens.RegisterUserAsync("jules", "jules-password-1");
        var pkce = Pkce.Create();
        var browser = new BrowserSession(factory);
        var code = await OAuthFlows.CodeFromAsync(
            await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "jules", "jules-password-1"), client);
        var (status, body) = await tokens.RedeemCodeAsync(client, code, pkce);
        Assert.Equal(HttpStatusCode.OK, status);

        var stored = await StoredKeysAsync();
        var jwks = await tokens.Http.GetStringAsync("/.well-known/jwks");
        // The code handed to the browser is a reference; the token it stands for stays in the database.
        string codePayload;
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var manager = scope.ServiceProvider.GetRequiredService<IOpenIddictTokenManager>();
            var entry = await manager.FindByReferenceIdAsync(code) ?? throw new InvalidOperationException("no entry for the code");
            codePayload = await manager.GetPayloadAsync(entry) ?? throw new InvalidOperationException("the code has no payload");
        }

        foreach (var token in new[] { codePayload, body.Token("refresh_token") })
        {
            var outer = new JsonWebToken(token);
            Assert.True(outer.IsEncrypted);
            Assert.Equal("A256KW", outer.Alg);
            Assert.Equal("A256CBC-HS512", outer.Enc);
            Assert.Equal(KeyUses.KeyWrap, stored.Single(k => k.Id == outer.Kid).Use);
            Assert.DoesNotContain(outer.Kid, jwks, StringComparison.Ordinal);

            var inner = new JsonWebToken(new JsonWebTokenHandler().DecryptToken(outer, new TokenValidationParameters
            {
                TokenDecryptionKeys = [.. stored.Where(k => k.Use == KeyUses.KeyWrap).Select(SymmetricKey)],
            }));
            Assert.Equal("HS256", inner.Alg);
            Assert.Equal(KeyUses.HmacSigning, stored.Single(k => k.Id == inner.Kid).Use);
        }
    }

    [Fact]
    public async Task A_refresh_token_whose_symmetric_keys_were_retired_is_refused_and_a_new_login_works()
    {
        var client = await tokens.RegisterCodeClientAsync("retired-symmetric-keys");
        await tokens.RegisterUserAsync("jethro", "jethro-password-1");
        var before = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "jethro", "jethro-password-1");

        // What an operator does when the secrets leak: retire them now. The next refresh creates new ones.
        var now = factory.Time.GetUtcNow();
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
            var symmetric = await db.SigningKeys.Where(k => k.Use == KeyUses.HmacSigning || k.Use == KeyUses.KeyWrap).ToListAsync();
            symmetric.ForEach(k => k.RetiresAt = now - TimeSpan.FromSeconds(1));
            await db.SaveChangesAsync();
        }

        await factory.Services.GetRequiredService<KeyRotation>().RefreshAsync(CancellationToken.None);

        var refused = await tokens.RefreshAsync(client, before.Token("refresh_token"));
        ProtocolHelpers.AssertOAuthError(refused, HttpStatusCode.BadRequest, "invalid_grant");
        // RSA-signed access tokens are untouched.
        await tokens.ValidateAccessTokenAsync(before.Token("access_token"));
        var after = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "jethro", "jethro-password-1");
        Assert.Equal(HttpStatusCode.OK, (await tokens.RefreshAsync(client, after.Token("refresh_token"))).Status);
    }

    [Fact]
    public async Task Keys_retained_for_less_than_the_refresh_token_lifetime_stop_the_server_from_starting()
    {
        await using var misconfigured = new IdentityServerFactory()
            .With("IdentityServer:RefreshTokenLifetime", "60.00:00:00")
            .With("Keys:RetentionAfterExpiry", "30.00:00:00");

        var error = Assert.ThrowsAny<Exception>(() => misconfigured.CreateClient());

        Assert.Contains("Keys:RetentionAfterExpiry", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("IdentityServer:RefreshTokenLifetime", error.ToString(), StringComparison.Ordinal);
    }

    private async Task<List<SigningKey>> StoredKeysAsync()
    {
        await using var scope = factory.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ApplicationDbContext>().SigningKeys.AsNoTracking().ToListAsync();
    }

    private static SymmetricSecurityKey SymmetricKey(SigningKey key) =>
        new(Convert.FromBase64String(key.PrivateKey)) { KeyId = key.Id };
}
