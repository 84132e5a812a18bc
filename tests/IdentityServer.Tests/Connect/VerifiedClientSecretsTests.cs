using IdentityServer.Connect;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace IdentityServer.Tests.Connect;

/// <summary>A PBKDF2-hashed client secret that passed is remembered for the cache duration, and only that secret.</summary>
public sealed class VerifiedClientSecretsTests
{
    private readonly FakeTimeProvider time = new();

    private VerifiedClientSecrets Secrets(TimeSpan duration) =>
        new(new MetadataCache<VerifiedClientSecrets.Mac>(Options.Create(new ConnectOptions { MetadataCacheDuration = duration }), time));

    [Fact]
    public void A_verified_secret_is_remembered_for_its_stored_hash_only_and_until_the_cache_duration_passes()
    {
        var secrets = Secrets(TimeSpan.FromSeconds(30));
        secrets.Remember("stored-hash", "correct horse battery staple", secrets.Version);

        Assert.True(secrets.IsRemembered("stored-hash", "correct horse battery staple"));
        Assert.False(secrets.IsRemembered("stored-hash", "correct horse battery staplf"));
        Assert.False(secrets.IsRemembered("another-stored-hash", "correct horse battery staple"));

        time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(secrets.IsRemembered("stored-hash", "correct horse battery staple"));
    }

    [Fact]
    public void A_change_of_any_client_forgets_every_remembered_secret_even_one_verified_during_the_change()
    {
        var secrets = Secrets(TimeSpan.FromSeconds(30));
        secrets.Remember("stored-hash", "correct horse battery staple", secrets.Version);
        var verifiedBefore = secrets.Version;

        secrets.Clear();
        secrets.Remember("other-stored-hash", "tr0ub4dor and three more words", verifiedBefore);

        Assert.False(secrets.IsRemembered("stored-hash", "correct horse battery staple"));
        Assert.False(secrets.IsRemembered("other-stored-hash", "tr0ub4dor and three more words"));
    }

    [Fact]
    public void With_the_cache_turned_off_nothing_is_remembered()
    {
        var secrets = Secrets(TimeSpan.Zero);
        secrets.Remember("stored-hash", "correct horse battery staple", secrets.Version);

        Assert.False(secrets.IsRemembered("stored-hash", "correct horse battery staple"));
    }
}
