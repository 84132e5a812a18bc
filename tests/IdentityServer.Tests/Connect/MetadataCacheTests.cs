using IdentityServer.Connect;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// The in-memory copy of clients and scopes: a change made through this instance clears it, and a change made
/// through another instance on the same database is seen at the next poll (<see cref="RegistrationChanges"/>), or
/// at the latest once <c>MetadataCacheDuration</c> has passed.
/// </summary>
public sealed class MetadataCacheTests
{
    private readonly FakeTimeProvider time = new();

    private MetadataCache<string> Cache(TimeSpan duration) =>
        new(Options.Create(new ConnectOptions { MetadataCacheDuration = duration }), time);

    [Fact]
    public void An_entry_is_served_until_the_cache_duration_has_passed_so_other_instances_changes_arrive_in_time()
    {
        var cache = Cache(TimeSpan.FromSeconds(30));
        cache.Set("client", "registration", cache.Version);

        time.Advance(TimeSpan.FromSeconds(29));
        Assert.True(cache.TryGet("client", out var value));
        Assert.Equal("registration", value);

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(cache.TryGet("client", out _));
    }

    [Fact]
    public void A_change_on_this_instance_forgets_everything_at_once()
    {
        var cache = Cache(TimeSpan.FromSeconds(30));
        cache.Set("client", "registration", cache.Version);

        cache.Clear();

        Assert.False(cache.TryGet("client", out _));
    }

    [Fact]
    public void A_value_read_before_a_change_landed_is_not_kept()
    {
        var cache = Cache(TimeSpan.FromSeconds(30));
        var readAt = cache.Version;

        cache.Clear();          // an admin change commits while a token request was still reading the old row
        cache.Set("client", "old registration", readAt);

        Assert.False(cache.TryGet("client", out _));
    }

    [Fact]
    public void A_zero_duration_keeps_nothing()
    {
        var cache = Cache(TimeSpan.Zero);
        cache.Set("client", "registration", cache.Version);

        Assert.False(cache.TryGet("client", out _));
    }

    [Fact]
    public void A_change_on_another_instance_has_every_entry_read_again_but_keeps_it_for_an_outage()
    {
        var cache = Cache(TimeSpan.FromSeconds(30));
        var readBefore = cache.Version;
        cache.Set("scopes", "openid api", readBefore);

        cache.Expire();

        Assert.False(cache.TryGet("scopes", out _));
        Assert.True(cache.TryGetExpired("scopes", out var stale));
        Assert.Equal("openid api", stale);
        // A read that began before the change is not kept.
        cache.Set("scopes", "openid", readBefore);
        Assert.False(cache.TryGet("scopes", out _));
    }
}
