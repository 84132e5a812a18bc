using System.Collections.Concurrent;
using System.Net;
using IdentityServer.Tests.Infrastructure;
using IdentityServer.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace IdentityServer.Tests.Users;

/// <summary>BCrypt runs on threads of its own, a bounded number at once, so that logins never hold the request threads.</summary>
public sealed class PasswordHashingThreadsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static PasswordHashingThreads Threads(int count) =>
        new(Options.Create(new PasswordHashingOptions { HashingThreads = count }));

    [Fact]
    public async Task No_more_hashes_run_at_once_than_there_are_hashing_threads_and_the_next_starts_when_one_ends()
    {
        using var threads = Threads(2);
        var started = new ConcurrentQueue<int>();
        var twoStarted = new CountdownEvent(2);
        var thirdStarted = new ManualResetEventSlim();
        var gates = Enumerable.Range(0, 3).Select(_ => new ManualResetEventSlim()).ToArray();

        Task<int> Hash(int number) => threads.RunAsync(() =>
        {
            started.Enqueue(number);
            if (number < 2)
            {
                twoStarted.Signal();
            }
            else
            {
                thirdStarted.Set();
            }

            gates[number].Wait(Patience);
            return number;
        }, CancellationToken.None);

        var first = Hash(0);
        var second = Hash(1);
        var third = Hash(2);
        Assert.True(twoStarted.Wait(Patience));

        // Both threads are busy: the third waits in the queue.
        Assert.False(thirdStarted.IsSet);
        Assert.Equal([0, 1], started.Order());

        gates[0].Set();
        Assert.Equal(0, await first);
        Assert.True(thirdStarted.Wait(Patience));
        gates[1].Set();
        gates[2].Set();
        Assert.Equal(1, await second);
        Assert.Equal(2, await third);
    }

    [Fact]
    public async Task Hashing_runs_on_a_thread_of_its_own_not_on_the_thread_pool()
    {
        using var threads = Threads(1);

        var (poolThread, name) = await threads.RunAsync(() => (Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name), CancellationToken.None);

        Assert.False(poolThread);
        Assert.Equal("BCrypt 1", name);
    }

    [Fact]
    public async Task A_failing_hash_fails_only_its_own_caller()
    {
        using var threads = Threads(1);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            threads.RunAsync<int>(() => throw new InvalidOperationException("bad hash"), CancellationToken.None));

        Assert.Equal("bad hash", failure.Message);
        Assert.Equal(42, await threads.RunAsync(() => 42, CancellationToken.None));
    }

    [Fact]
    public async Task A_request_that_gave_up_while_waiting_its_turn_costs_no_hash()
    {
        using var threads = Threads(1);
        var busy = new ManualResetEventSlim();
        var release = new ManualResetEventSlim();
        var blocker = threads.RunAsync(() => { busy.Set(); return release.Wait(Patience); }, CancellationToken.None);
        Assert.True(busy.Wait(Patience));
        using var gaveUp = new CancellationTokenSource();
        var ran = false;

        var waiting = threads.RunAsync(() => ran = true, gaveUp.Token);
        await gaveUp.CancelAsync();
        release.Set();

        Assert.True(await blocker);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.False(ran);
    }

    [Fact]
    public async Task A_hash_asked_for_once_the_server_is_stopping_ends_as_cancelled()
    {
        var threads = Threads(1);
        threads.Dispose();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => threads.RunAsync(() => 1, CancellationToken.None));
    }
}

/// <summary>Every password check and hash the server makes for a request runs on a hashing thread.</summary>
public sealed class PasswordHashingOffTheRequestThreadsTests(PasswordRecordingFactory factory) : IClassFixture<PasswordRecordingFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task A_login_checks_the_password_off_the_request_threads_for_a_known_and_an_unknown_user()
    {
        await tokens.RegisterUserAsync("threads-login", "threads-password-1");

        var signedIn = new BrowserSession(factory);
        var refused = new BrowserSession(factory);
        var known = await factory.Hasher.RecordAsync(() => signedIn.SignInAsync("/account/login", "threads-login", "threads-password-1"));
        var unknown = await factory.Hasher.RecordAsync(() => refused.SignInAsync("/account/login", "threads-nobody", "threads-password-1"));

        Assert.Null(signedIn.Page!.GetElementById("login"));
        Assert.NotNull(refused.Page!.GetElementById("login"));
        Assert.Equal([("verify", false)], known);
        Assert.Equal([("verify", false)], unknown);
    }

    [Fact]
    public async Task A_login_abandoned_before_its_turn_costs_no_verify_whether_or_not_the_account_exists()
    {
        await tokens.RegisterUserAsync("threads-abandoned", "threads-password-1");

        // What the login page does for a known and for an unknown username, for a caller who already hung up.
        var known = await factory.Hasher.RecordAsync(() => AbandonedAsync(async signIn =>
            await signIn.PasswordSignInAsync((await signIn.UserManager.FindByNameAsync("threads-abandoned"))!,
                "threads-password-1", isPersistent: false, lockoutOnFailure: true)));
        var unknown = await factory.Hasher.RecordAsync(() => AbandonedAsync(signIn =>
            signIn.SpendOnePasswordCheckAsync("threads-password-1")));

        Assert.Empty(known);
        Assert.Empty(unknown);
    }

    private async Task AbandonedAsync(Func<ApplicationSignInManager, Task> login)
    {
        using var scope = factory.Services.CreateScope();
        using var hungUp = new CancellationTokenSource();
        await hungUp.CancelAsync();
        scope.ServiceProvider.GetRequiredService<IHttpContextAccessor>().HttpContext =
            new DefaultHttpContext { RequestServices = scope.ServiceProvider, RequestAborted = hungUp.Token };
        var signIn = (ApplicationSignInManager)scope.ServiceProvider.GetRequiredService<SignInManager<ApplicationUser>>();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => login(signIn));
    }

    [Fact]
    public async Task A_password_grant_checks_the_password_off_the_request_threads()
    {
        var client = await tokens.RegisterCodeClientAsync("threads-password-grant", extraGrantTypes: ["password"]);
        await tokens.RegisterUserAsync("threads-grant", "threads-password-1");

        var checks = await factory.Hasher.RecordAsync(async () =>
        {
            var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
            {
                ["grant_type"] = "password", ["username"] = "threads-grant", ["password"] = "threads-password-1", ["scope"] = "openid",
            }, client.ClientId, client.Secret);
            Assert.True(status == HttpStatusCode.OK, body.ToString());
        });

        Assert.Equal([("verify", false)], checks);
    }

    [Fact]
    public async Task Creating_a_user_hashes_the_password_off_the_request_threads()
    {
        var hashes = await factory.Hasher.RecordAsync(() => tokens.RegisterUserAsync("threads-new", "threads-password-1"));

        Assert.Equal([("hash", false)], hashes);
    }

    [Fact]
    public async Task Resetting_a_password_hashes_it_off_the_request_threads_and_the_new_one_signs_in()
    {
        var id = await tokens.RegisterUserAsync("threads-reset", "threads-password-1");

        var hashes = await factory.Hasher.RecordAsync(async () =>
        {
            var (status, body) = await tokens.AdminAsync(HttpMethod.Post, $"/admin/users/{id}/password", new { password = "threads-password-2" });
            Assert.True(status == HttpStatusCode.NoContent, body.ToString());
        });

        Assert.Equal([("hash", false)], hashes);
        var browser = new BrowserSession(factory);
        await browser.SignInAsync("/account/login", "threads-reset", "threads-password-2");
        Assert.Null(browser.Page!.GetElementById("login"));
    }
}
