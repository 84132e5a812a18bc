using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using IdentityServer.Admin;
using IdentityServer.Connect;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.EntityFrameworkCore.Models;
using static IdentityServer.Tests.Admin.AdminApi;
using AdminApi = IdentityServer.Tests.Admin.AdminApi;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// Generated (256-bit) client secrets are stored as one SHA-256 ("sha256:..."), human-chosen ones keep OpenIddict's
/// PBKDF2 (remembered for a while once verified), and hashes stored before the change keep working.
/// </summary>
public sealed class ClientSecretHashingTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly AdminApi admin = new(factory);

    private static object Worker(string clientId, string? secret = null) => new
    {
        clientId,
        clientType = "confidential",
        clientSecret = secret,
        grantTypes = new[] { "client_credentials" },
        scopes = Array.Empty<string>(),
    };

    private async Task<string> StoredSecretAsync(string clientId)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
        return await db.Set<OpenIddictEntityFrameworkCoreApplication>().AsNoTracking()
            .Where(a => a.ClientId == clientId).Select(a => a.ClientSecret).SingleAsync() ?? "";
    }

    private Task<(HttpStatusCode Status, System.Text.Json.JsonElement Body)> ClientCredentialsAsync(string clientId, string secret) =>
        admin.Tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, clientId, secret);

    [Fact]
    public void Generated_secrets_count_as_high_entropy_and_typed_ones_do_not()
    {
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(ClientSecretHashing.IsHighEntropy(ClientsEndpoints.NewSecret()));
        }

        // openssl rand -base64 32
        Assert.True(ClientSecretHashing.IsHighEntropy(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))));

        Assert.False(ClientSecretHashing.IsHighEntropy("correct horse battery staple"));
        Assert.False(ClientSecretHashing.IsHighEntropy(IdentityServerFactory.AdminClientSecret));
        Assert.False(ClientSecretHashing.IsHighEntropy("change-me-to-something-long-change-me-to-something-long"));
        Assert.False(ClientSecretHashing.IsHighEntropy(new string('a', 64)));
        Assert.False(ClientSecretHashing.IsHighEntropy("CorrectHorseBatteryStaple1CorrectHorseBattery"));
        Assert.False(ClientSecretHashing.IsHighEntropy(ClientsEndpoints.NewSecret()[..40]));
    }

    [Fact]
    public void A_sha256_hash_verifies_its_secret_only()
    {
        var secret = ClientsEndpoints.NewSecret();
        var hash = ClientSecretHashing.HashSha256(secret);

        Assert.StartsWith(ClientSecretHashing.Sha256Prefix, hash, StringComparison.Ordinal);
        Assert.True(ClientSecretHashing.VerifySha256(secret, hash));
        Assert.False(ClientSecretHashing.VerifySha256(secret[..^1] + (secret[^1] == 'A' ? 'B' : 'A'), hash));
        Assert.False(ClientSecretHashing.VerifySha256(secret, "sha256:not-base64"));
        Assert.False(ClientSecretHashing.VerifySha256(secret, "sha256:" + Convert.ToBase64String(new byte[16])));
    }

    [Fact]
    public async Task A_generated_secret_is_stored_as_sha256_and_authenticates_the_client()
    {
        var clientId = Unique("fast");
        var created = await admin.PostAsync("/admin/clients", Worker(clientId));
        AssertStatus(created, HttpStatusCode.Created);
        var secret = created.Json.GetProperty("clientSecret").GetString()!;

        var stored = await StoredSecretAsync(clientId);
        Assert.Equal(ClientSecretHashing.HashSha256(secret), stored);

        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, secret)).Status);
        var (status, body) = await ClientCredentialsAsync(clientId, ClientsEndpoints.NewSecret());
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_client", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_rotated_secret_is_stored_as_sha256_and_the_old_one_stops_working()
    {
        var clientId = Unique("rotated");
        var created = await admin.PostAsync("/admin/clients", Worker(clientId));
        var old = created.Json.GetProperty("clientSecret").GetString()!;

        var rotated = await admin.PostAsync($"/admin/clients/{clientId}/secret", new { });
        AssertStatus(rotated, HttpStatusCode.OK);
        var secret = rotated.Json.GetProperty("clientSecret").GetString()!;

        Assert.StartsWith(ClientSecretHashing.Sha256Prefix, await StoredSecretAsync(clientId), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, secret)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(clientId, old)).Status);
    }

    [Fact]
    public async Task A_human_chosen_secret_keeps_pbkdf2_and_authenticates_the_client()
    {
        var clientId = Unique("typed");
        const string secret = "correct horse battery staple";
        AssertStatus(await admin.PostAsync("/admin/clients", Worker(clientId, secret)), HttpStatusCode.Created);

        var stored = await StoredSecretAsync(clientId);
        Assert.DoesNotContain(':', stored);
        Assert.Equal(1, Convert.FromBase64String(stored)[0]);   // OpenIddict's PBKDF2 format marker

        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, secret)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(clientId, "correct horse battery staplf")).Status);
    }

    [Fact]
    public async Task A_human_chosen_secret_once_verified_is_remembered_and_a_wrong_one_never_is()
    {
        var clientId = Unique("remembered");
        const string secret = "correct horse battery staple";
        AssertStatus(await admin.PostAsync("/admin/clients", Worker(clientId, secret)), HttpStatusCode.Created);
        var stored = await StoredSecretAsync(clientId);
        var verified = factory.Services.GetRequiredService<VerifiedClientSecrets>();

        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(clientId, "correct horse battery staplf")).Status);
        Assert.False(verified.IsRemembered(stored, "correct horse battery staplf"));

        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, secret)).Status);
        Assert.True(verified.IsRemembered(stored, secret));
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, secret)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(clientId, "correct horse battery staplf")).Status);
    }

    [Fact]
    public async Task A_remembered_secret_is_accepted_without_pbkdf2()
    {
        var clientId = Unique("remembered-fast");
        AssertStatus(await admin.PostAsync("/admin/clients", Worker(clientId, "correct horse battery staple")), HttpStatusCode.Created);
        var stored = await StoredSecretAsync(clientId);
        var verified = factory.Services.GetRequiredService<VerifiedClientSecrets>();

        // Planted by hand: PBKDF2 would refuse this secret, so a 200 shows the remembered one was used instead.
        verified.Remember(stored, "a secret PBKDF2 would refuse", verified.Version);

        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, "a secret PBKDF2 would refuse")).Status);
    }

    [Fact]
    public async Task A_remembered_human_chosen_secret_stops_working_at_once_when_an_admin_replaces_it_with_another()
    {
        var clientId = Unique("remembered-replaced");
        const string secret = "correct horse battery staple";
        AssertStatus(await admin.PostAsync("/admin/clients", Worker(clientId, secret)), HttpStatusCode.Created);
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, secret)).Status);

        const string replacement = "tr0ub4dor and three more words";
        AssertStatus(await admin.PutAsync($"/admin/clients/{clientId}", Worker(clientId, replacement)), HttpStatusCode.OK);
        Assert.DoesNotContain(':', await StoredSecretAsync(clientId));   // PBKDF2 again, not the SHA-256 format

        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(clientId, secret)).Status);
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, replacement)).Status);
    }

    [Fact]
    public async Task The_bootstrap_secret_a_person_typed_is_stored_with_pbkdf2()
    {
        var stored = await StoredSecretAsync(IdentityServerFactory.AdminClientId);
        Assert.False(stored.StartsWith(ClientSecretHashing.Sha256Prefix, StringComparison.Ordinal));
        Assert.NotNull(await admin.AdminTokenAsync());
    }

    [Fact]
    public async Task A_pbkdf2_hash_stored_before_the_change_still_validates_even_for_a_generated_secret()
    {
        var clientId = Unique("legacy");
        var created = await admin.PostAsync("/admin/clients", Worker(clientId));
        var secret = created.Json.GetProperty("clientSecret").GetString()!;

        // What OpenIddict stored for every secret before: PBKDF2-SHA256, 10,000 iterations, 128-bit salt, 256-bit key.
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
            var application = await db.Set<OpenIddictEntityFrameworkCoreApplication>().SingleAsync(a => a.ClientId == clientId);
            application.ClientSecret = LegacyPbkdf2(secret);
            await db.SaveChangesAsync();
        }

        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, secret)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(clientId, ClientsEndpoints.NewSecret())).Status);
    }

    private static string LegacyPbkdf2(string secret)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var key = Rfc2898DeriveBytes.Pbkdf2(secret, salt, 10_000, HashAlgorithmName.SHA256, 32);
        var hash = new byte[13 + salt.Length + key.Length];
        hash[0] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(hash.AsSpan(1, 4), 1);          // SHA-256
        BinaryPrimitives.WriteUInt32BigEndian(hash.AsSpan(5, 4), 10_000);
        BinaryPrimitives.WriteUInt32BigEndian(hash.AsSpan(9, 4), (uint)salt.Length);
        salt.CopyTo(hash.AsSpan(13));
        key.CopyTo(hash.AsSpan(13 + salt.Length));
        return Convert.ToBase64String(hash);
    }
}
