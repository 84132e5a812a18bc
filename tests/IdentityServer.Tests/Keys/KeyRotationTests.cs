using System.Net;
using System.Text.Json;
using IdentityServer.Keys;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace IdentityServer.Tests.Keys;

/// <summary>
/// Keys that sign for one day, published two hours ahead, kept one day after they stop signing; refresh tokens live
/// one day, no longer than the keys that protect them are kept.
/// </summary>
public sealed class ShortLivedKeysFactory : IdentityServerFactory
{
    public ShortLivedKeysFactory()
    {
        With("Keys:KeyLifetime", "1.00:00:00");
        With("Keys:PublishAhead", "02:00:00");
        With("Keys:RetentionAfterExpiry", "1.00:00:00");
        With("Keys:RefreshInterval", "00:10:00");
        With("IdentityServer:RefreshTokenLifetime", "1.00:00:00");
    }
}

public sealed class KeyRotationTests(ShortLivedKeysFactory factory) : IClassFixture<ShortLivedKeysFactory>
{
    private readonly TokenClient tokens = new(factory);

    private async Task<List<string>> PublishedKeyIdsAsync()
    {
        using var response = await tokens.Http.GetAsync("/.well-known/jwks");
        using var jwks = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return [.. jwks.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!)];
    }

    private Task RotateAsync() => factory.Services.GetRequiredService<KeyRotation>().RefreshAsync(CancellationToken.None);

    private Task<string> AdminAccessTokenAsync() => tokens.AdminTokenAsync();

    [Fact]
    public async Task A_new_key_is_published_before_it_signs_and_tokens_from_both_sides_of_the_rotation_validate()
    {
        var first = new JsonWebToken(await AdminAccessTokenAsync()).Kid;
        Assert.Equal([first], await PublishedKeyIdsAsync());

        // Inside the publish-ahead window: the successor appears in the JWKS but does not sign yet.
        factory.Time.Advance(TimeSpan.FromHours(23));
        await RotateAsync();
        var published = await PublishedKeyIdsAsync();
        Assert.Equal(2, published.Count);
        Assert.Equal(first, published[0]);
        factory.Time.Advance(TimeSpan.FromMinutes(58));
        var beforeRotation = await AdminAccessTokenAsync();
        Assert.Equal(first, new JsonWebToken(beforeRotation).Kid);

        // Past the first key's lifetime: the successor signs, the old key stays published.
        factory.Time.Advance(TimeSpan.FromMinutes(3));
        await RotateAsync();
        var afterRotation = await AdminAccessTokenAsync();
        var second = new JsonWebToken(afterRotation).Kid;
        Assert.NotEqual(first, second);
        Assert.Contains(first, await PublishedKeyIdsAsync());

        await tokens.ValidateAccessTokenAsync(beforeRotation);
        await tokens.ValidateAccessTokenAsync(afterRotation);

        // A day after it stopped signing, the old key is no longer published.
        factory.Time.Advance(TimeSpan.FromDays(1) + TimeSpan.FromHours(1));
        await RotateAsync();
        Assert.DoesNotContain(first, await PublishedKeyIdsAsync());
    }
}

public sealed class SymmetricKeyRotationTests(ShortLivedKeysFactory factory) : IClassFixture<ShortLivedKeysFactory>
{
    private readonly TokenClient tokens = new(factory);

    private Task RotateAsync() => factory.Services.GetRequiredService<KeyRotation>().RefreshAsync(CancellationToken.None);

    private async Task<SigningKey> ActiveKeyWrapKeyAsync()
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var now = factory.Time.GetUtcNow();
        var keys = await scope.ServiceProvider.GetRequiredService<ApplicationDbContext>().SigningKeys.AsNoTracking()
            .Where(k => k.Use == KeyUses.KeyWrap).ToListAsync();
        return keys.Single(k => k.ActivatesAt <= now && k.ExpiresAt > now);
    }

    [Fact]
    public async Task A_refresh_token_issued_before_a_key_rotation_still_refreshes_after_it()
    {
        var client = await tokens.RegisterCodeClientAsync("rotation-refresh");
        var userId = await tokens.RegisterUserAsync("rowan", "rowan-password-1");
        var first = await ActiveKeyWrapKeyAsync();

        // An hour before the symmetric keys rotate: the successors are published, the current ones still protect.
        factory.Time.Advance(first.ExpiresAt - factory.Time.GetUtcNow() - TimeSpan.FromHours(1));
        await RotateAsync();
        var before = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rowan", "rowan-password-1");
        Assert.Equal(first.Id, new JsonWebToken(before.Token("refresh_token")).Kid);

        factory.Time.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(2));
        await RotateAsync();
        var (status, after) = await tokens.RefreshAsync(client, before.Token("refresh_token"));

        Assert.True(status == HttpStatusCode.OK, $"refresh after the rotation failed: {status} {after}");
        var second = await ActiveKeyWrapKeyAsync();
        Assert.NotEqual(first.Id, second.Id);
        Assert.Equal(second.Id, new JsonWebToken(after.Token("refresh_token")).Kid);
        Assert.Equal(userId, (await tokens.ValidateAccessTokenAsync(after.Token("access_token"))).Subject);
        Assert.Equal(HttpStatusCode.OK, (await tokens.RefreshAsync(client, after.Token("refresh_token"))).Status);
    }
}
