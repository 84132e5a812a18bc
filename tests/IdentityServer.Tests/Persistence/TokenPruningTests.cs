using System.Net;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.EntityFrameworkCore.Models;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Tests.Persistence;

public sealed class TokenPruningTests(TokenPruningTests.PruningFactory factory) : IClassFixture<TokenPruningTests.PruningFactory>
{
    private static readonly TimeSpan RetainFor = new PruningOptions().RetainFor;
    private static readonly TimeSpan Interval = TimeSpan.FromDays(15);

    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Spent_tokens_are_deleted_on_schedule_once_older_than_the_retention_and_kept_before()
    {
        var client = await tokens.RegisterCodeClientAsync("prune-app");
        var userId = await tokens.RegisterUserAsync("dora", "dora-password-1");
        var signIn = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "dora", "dora-password-1");
        var (status, refreshed) = await tokens.RefreshAsync(client, signIn.GetProperty("refresh_token").GetString()!);
        Assert.True(status == HttpStatusCode.OK, refreshed.ToString());
        var pruner = factory.Services.GetRequiredService<TokenPruner>();

        // The redeemed authorization code and refresh token are spent; everything else is still usable.
        var total = await CountAsync();
        var spent = await CountAsync(t => t.Status != Statuses.Valid);
        Assert.True(spent >= 2, $"expected a redeemed code and refresh token, found {spent} spent of {total}");

        // The first pass comes two minutes after start, whatever the interval: the spent tokens are younger than the
        // retention period, so they are kept, even though they can never be used again.
        var first = pruner.NextRunAsync();
        factory.Time.Advance(TokenPruner.FirstPassAfter);
        Assert.Equal(0, (await first.WaitAsync(TimeSpan.FromSeconds(30))).Tokens);
        factory.Time.Advance(RetainFor - TimeSpan.FromHours(1));
        var early = await pruner.PruneOnceAsync(CancellationToken.None);
        Assert.Equal(0, early.Tokens);
        Assert.Equal(total, await CountAsync());

        // The next pass, one interval (15 days here) after the first, comes once they are past the retention period.
        var run = pruner.NextRunAsync();
        Assert.False(run.IsCompleted);
        factory.Time.Advance(Interval - (RetainFor - TimeSpan.FromHours(1)));
        var scheduled = await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(factory.Time.GetUtcNow() - RetainFor, scheduled.Threshold);
        Assert.Equal(spent, scheduled.Tokens);
        Assert.Equal(total - spent, await CountAsync());
        Assert.Equal(0, await CountAsync(t => t.Status != Statuses.Valid));

        // Deleting the user revokes its tokens and authorization; the next pass removes both.
        var (deleted, _) = await tokens.AdminAsync(HttpMethod.Delete, $"/admin/users/{userId}");
        Assert.Equal(HttpStatusCode.NoContent, deleted);
        Assert.True(await CountAsync(t => t.Subject == userId) > 0);
        var afterRevocation = await pruner.PruneOnceAsync(CancellationToken.None);

        Assert.True(afterRevocation.Authorizations >= 1, $"pruned {afterRevocation.Authorizations} authorizations");
        Assert.Equal(0, await CountAsync(t => t.Subject == userId));
    }

    [Fact]
    public async Task Audit_events_are_deleted_once_older_than_their_retention_and_younger_ones_kept()
    {
        var retainFor = new PruningOptions().AuditRetainFor;
        var now = factory.Time.GetUtcNow();
        var old = $"old-{Guid.NewGuid():N}";
        var recent = $"recent-{Guid.NewGuid():N}";
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
            db.AuditEvents.Add(new IdentityServer.Admin.AuditEvent { OccurredAt = now - retainFor - TimeSpan.FromMinutes(1), Actor = "anonymous", Action = "login.failed", Target = old });
            db.AuditEvents.Add(new IdentityServer.Admin.AuditEvent { OccurredAt = now - retainFor + TimeSpan.FromMinutes(1), Actor = "anonymous", Action = "login.failed", Target = recent });
            await db.SaveChangesAsync();
        }

        var result = await factory.Services.GetRequiredService<TokenPruner>().PruneOnceAsync(CancellationToken.None);

        Assert.True(result.AuditEvents >= 1, $"pruned {result.AuditEvents} audit events");
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var audit = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>().AuditEvents;
            Assert.False(await audit.AnyAsync(e => e.Target == old));
            Assert.True(await audit.AnyAsync(e => e.Target == recent));
        }
    }

    [Fact]
    public async Task A_backlog_of_audit_events_is_deleted_in_batches_so_sign_ins_can_write_between_them()
    {
        var now = factory.Time.GetUtcNow();
        var expired = now - new PruningOptions().AuditRetainFor - TimeSpan.FromDays(1);
        var backlog = $"backlog-{Guid.NewGuid():N}";
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
            db.AuditEvents.AddRange(Enumerable.Range(0, (2 * TokenPruner.AuditBatchSize) + 10).Select(_ =>
                new IdentityServer.Admin.AuditEvent { OccurredAt = expired, Actor = "anonymous", Action = "login.failed", Target = backlog }));
            await db.SaveChangesAsync();
        }

        using var counter = new DatabaseCommandCounter(factory);
        var commands = await counter.RecordAsync(() => factory.Services.GetRequiredService<TokenPruner>().PruneOnceAsync(CancellationToken.None));

        Assert.True(commands.Count(command => command.Contains("DELETE FROM \"AuditEvents\"", StringComparison.Ordinal)) >= 3, string.Join("\n", commands));
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            Assert.False(await scope.ServiceProvider.GetRequiredService<ApplicationDbContext>().AuditEvents.AnyAsync(e => e.Target == backlog));
        }
    }

    private async Task<int> CountAsync(System.Linq.Expressions.Expression<Func<OpenIddictEntityFrameworkCoreToken, bool>>? predicate = null)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var set = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>().Set<OpenIddictEntityFrameworkCoreToken>();
        return predicate is null ? await set.CountAsync() : await set.CountAsync(predicate);
    }

    public sealed class PruningFactory : IdentityServerFactory
    {
        // One scheduled run at a known moment: past the retention period of everything the test creates first.
        public PruningFactory() => With("Pruning:Interval", Interval.ToString("c", System.Globalization.CultureInfo.InvariantCulture));
    }
}
