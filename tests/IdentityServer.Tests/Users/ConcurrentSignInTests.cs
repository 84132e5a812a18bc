using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Users;

/// <summary>
/// Sign-in attempts for one user that overlap: each request has read the user before the others saved. The
/// interleaving is forced by reading the user in several scopes (requests) first and acting in each afterwards.
/// </summary>
public sealed class ConcurrentSignInTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private sealed record Request(AsyncServiceScope Scope, UserManager<ApplicationUser> Users, ApplicationDbContext Db, ApplicationUser User) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Scope.DisposeAsync();
    }

    private async Task<List<Request>> ReadTheUserInParallelRequestsAsync(string username, int count)
    {
        var requests = new List<Request>();
        for (var i = 0; i < count; i++)
        {
            var scope = factory.Services.CreateAsyncScope();
            var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
            requests.Add(new Request(scope, users, scope.ServiceProvider.GetRequiredService<ApplicationDbContext>(), (await users.FindByNameAsync(username))!));
        }

        return requests;
    }

    private async Task<ApplicationUser> StoredUserAsync(string userId)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>().FindByIdAsync(userId))!;
    }

    [Fact]
    public async Task Wrong_passwords_sent_at_once_each_count_so_the_fifth_locks_the_account_and_no_request_fails()
    {
        var userId = await tokens.RegisterUserAsync("parallel-guesses", "parallel-guesses-password-1");
        var requests = await ReadTheUserInParallelRequestsAsync("parallel-guesses", 5);

        foreach (var request in requests)
        {
            Assert.True((await request.Users.AccessFailedAsync(request.User)).Succeeded);
        }

        Assert.True(await requests[^1].Users.IsLockedOutAsync(requests[^1].User));
        Assert.NotNull((await StoredUserAsync(userId)).LockoutEnd);
        foreach (var request in requests)
        {
            // Nothing stale is left for the request's next save (its audit row) to fail on.
            Assert.False(request.Db.ChangeTracker.HasChanges());
            await request.DisposeAsync();
        }
    }

    [Fact]
    public async Task Wrong_passwords_still_in_flight_when_the_account_locks_do_not_count_towards_the_next_lockout()
    {
        var userId = await tokens.RegisterUserAsync("late-guesses", "late-guesses-password-1");
        var requests = await ReadTheUserInParallelRequestsAsync("late-guesses", 8);

        foreach (var request in requests)
        {
            await request.Users.AccessFailedAsync(request.User);
            await request.DisposeAsync();
        }

        var stored = await StoredUserAsync(userId);
        Assert.NotNull(stored.LockoutEnd);
        Assert.Equal(0, stored.AccessFailedCount);
    }

    [Fact]
    public async Task A_change_prepared_before_the_account_locked_does_not_write_the_lock_away()
    {
        var userId = await tokens.RegisterUserAsync("stale-admin-edit", "stale-admin-edit-password-1");
        await using var adminEdit = (await ReadTheUserInParallelRequestsAsync("stale-admin-edit", 1))[0];
        foreach (var request in await ReadTheUserInParallelRequestsAsync("stale-admin-edit", 5))
        {
            await request.Users.AccessFailedAsync(request.User);
            await request.DisposeAsync();
        }

        adminEdit.User.Email = "stale-admin-edit@example.test";
        var saved = await adminEdit.Users.UpdateAsync(adminEdit.User);

        // The admin API answers a concurrency failure by doing the change again on a fresh read.
        Assert.False(saved.Succeeded);
        Assert.NotNull((await StoredUserAsync(userId)).LockoutEnd);
    }

    [Fact]
    public async Task A_right_password_checked_while_parallel_guesses_locked_the_account_does_not_sign_in()
    {
        await tokens.RegisterUserAsync("late-right-password", "late-right-password-1");
        await using var scope = factory.Services.CreateAsyncScope();
        var signIn = scope.ServiceProvider.GetRequiredService<ApplicationSignInManager>();
        var user = (await signIn.UserManager.FindByNameAsync("late-right-password"))!;   // read before the guesses lock it
        foreach (var request in await ReadTheUserInParallelRequestsAsync("late-right-password", 5))
        {
            await request.Users.AccessFailedAsync(request.User);
            await request.DisposeAsync();
        }

        var result = await signIn.CheckPasswordSignInAsync(user, "late-right-password-1", lockoutOnFailure: true);

        Assert.True(result.IsLockedOut);
    }

    [Fact]
    public async Task Correct_passwords_sent_at_once_after_failures_all_reset_the_count_and_sign_in()
    {
        var userId = await tokens.RegisterUserAsync("parallel-logins", "parallel-logins-password-1");
        await using (var before = (await ReadTheUserInParallelRequestsAsync("parallel-logins", 1))[0])
        {
            await before.Users.AccessFailedAsync(before.User);
        }

        var requests = await ReadTheUserInParallelRequestsAsync("parallel-logins", 3);

        foreach (var request in requests)
        {
            // Identity refuses the sign-in when this reset fails.
            Assert.True((await request.Users.ResetAccessFailedCountAsync(request.User)).Succeeded);
            Assert.False(request.Db.ChangeTracker.HasChanges());
            await request.DisposeAsync();
        }

        Assert.Equal(0, (await StoredUserAsync(userId)).AccessFailedCount);
    }
}
