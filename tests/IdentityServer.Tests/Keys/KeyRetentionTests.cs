using IdentityServer.Keys;
using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Keys;

/// <summary>Keys made under an earlier, shorter <c>Keys:RetentionAfterExpiry</c>, after an operator raised it.</summary>
public sealed class KeyRetentionTests(ShortLivedKeysFactory factory) : IClassFixture<ShortLivedKeysFactory>
{
    private static readonly TimeSpan Retention = TimeSpan.FromDays(1);   // ShortLivedKeysFactory's

    [Fact]
    public async Task A_published_key_is_kept_for_the_retention_configured_now_and_a_retired_key_is_deleted()
    {
        await new Infrastructure.TokenClient(factory).AdminTokenAsync();   // the server has started and made its keys
        string shortenedId, retiredId;
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
            var keys = await db.SigningKeys.OrderBy(k => k.Id).ToListAsync();
            var shortened = keys.First(k => k.Use == KeyUses.Signing);
            shortened.RetiresAt = shortened.ExpiresAt + TimeSpan.FromHours(1);   // as made under a 1-hour retention
            var retired = keys.First(k => k.Use == KeyUses.HmacSigning);
            retired.RetiresAt = factory.Time.GetUtcNow() - TimeSpan.FromMinutes(1);   // an operator's emergency retirement
            (shortenedId, retiredId) = (shortened.Id, retired.Id);
            await db.SaveChangesAsync();
        }

        await factory.Services.GetRequiredService<KeyRotation>().RefreshAsync(CancellationToken.None);

        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
            var shortened = await db.SigningKeys.AsNoTracking().SingleAsync(k => k.Id == shortenedId);
            Assert.Equal(shortened.ExpiresAt + Retention, shortened.RetiresAt);
            // An early retirement stands, and the retired key's private key leaves the database.
            Assert.False(await db.SigningKeys.AnyAsync(k => k.Id == retiredId));
        }
    }
}
