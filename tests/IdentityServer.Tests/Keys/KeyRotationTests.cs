using System.Text.Json;
using IdentityServer.Keys;
using IdentityServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace IdentityServer.Tests.Keys;

/// <summary>Keys that sign for one day, published two hours ahead, kept one day after they stop signing.</summary>
public sealed class ShortLivedKeysFactory : IdentityServerFactory
{
    public ShortLivedKeysFactory()
    {
        With("Keys:KeyLifetime", "1.00:00:00");
        With("Keys:PublishAhead", "02:00:00");
        With("Keys:RetentionAfterExpiry", "1.00:00:00");
        With("Keys:RefreshInterval", "00:10:00");
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
