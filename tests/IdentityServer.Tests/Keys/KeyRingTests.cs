using System.Security.Cryptography;
using IdentityServer.Keys;

namespace IdentityServer.Tests.Keys;

/// <summary>Which loaded keys protect new tokens, as time passes between two loads of the ring.</summary>
public sealed class KeyRingTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_successor_published_ahead_takes_over_when_its_time_comes_without_the_ring_being_reloaded()
    {
        var switchAt = Start.AddHours(2);
        var current = Keys("current", Start.AddDays(-1), switchAt);
        var successor = Keys("successor", switchAt, switchAt.AddDays(1));
        var ring = new KeyRing();
        ring.Load([.. current, .. successor], Start);

        var before = ring.ActiveAt(switchAt.AddMinutes(-2));
        var after = ring.ActiveAt(switchAt.AddMinutes(1));

        Assert.All([before.PublicSigning.Kid, before.InternalSigning.Kid, before.InternalEncryption.Key.KeyId], kid => Assert.StartsWith("current", kid));
        Assert.All([after.PublicSigning.Kid, after.InternalSigning.Kid, after.InternalEncryption.Key.KeyId], kid => Assert.StartsWith("successor", kid));
    }

    [Fact]
    public void With_no_loaded_key_active_any_more_the_newest_keeps_protecting()
    {
        var ring = new KeyRing();
        ring.Load([.. Keys("old", Start.AddDays(-2), Start.AddDays(-1)), .. Keys("newest", Start.AddDays(-1), Start.AddHours(1))], Start);

        var late = ring.ActiveAt(Start.AddDays(3));

        Assert.StartsWith("newest", late.PublicSigning.Kid);
    }

    private static SigningKey[] Keys(string name, DateTimeOffset activatesAt, DateTimeOffset expiresAt)
    {
        using var rsa = RSA.Create(2048);
        return
        [
            Key(name + "-sig", KeyUses.Signing, Convert.ToBase64String(rsa.ExportPkcs8PrivateKey())),
            Key(name + "-hmac", KeyUses.HmacSigning, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))),
            Key(name + "-aeskw", KeyUses.KeyWrap, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))),
        ];

        SigningKey Key(string id, string use, string material) => new()
        {
            Id = id, Use = use, Algorithm = use, PrivateKey = material,
            CreatedAt = activatesAt, ActivatesAt = activatesAt, ExpiresAt = expiresAt, RetiresAt = expiresAt.AddDays(1),
        };
    }
}
