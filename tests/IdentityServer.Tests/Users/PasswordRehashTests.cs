using System.Net;
using IdentityServer.Tests.Infrastructure;
using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace IdentityServer.Tests.Users;

/// <summary>A host whose configured BCrypt cost (5) is above the one some stored hashes were made with (4).</summary>
public sealed class WorkFactorFiveFactory : IdentityServerFactory
{
    public WorkFactorFiveFactory() => With("Passwords:BcryptWorkFactor", "5");
}

public sealed class PasswordRehashTests(WorkFactorFiveFactory factory) : IClassFixture<WorkFactorFiveFactory>
{
    private readonly TokenClient tokens = new(factory);

    private static int WorkFactorOf(string hash) => int.Parse(hash.Split('$')[2], System.Globalization.CultureInfo.InvariantCulture);

    private async Task<string> StoredHashAsync(string userId)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        return (await users.FindByIdAsync(userId))!.PasswordHash!;
    }

    /// <summary>Stores a cost-4 hash, as if the user had set the password before an operator raised the cost.</summary>
    private async Task WeakenStoredHashAsync(string userId, string password)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        var user = (await users.FindByIdAsync(userId))!;
        user.PasswordHash = new BcryptPasswordHasher(Options.Create(new PasswordHashingOptions { BcryptWorkFactor = 4 })).HashPassword(user, password);
        Assert.True((await users.UpdateAsync(user)).Succeeded);
    }

    [Fact]
    public async Task New_passwords_are_hashed_at_the_configured_work_factor()
    {
        var userId = await tokens.RegisterUserAsync("fresh-hash", "fresh-hash-password-1");

        Assert.Equal(5, WorkFactorOf(await StoredHashAsync(userId)));
    }

    [Fact]
    public async Task Logging_in_through_the_page_with_a_weaker_stored_hash_rewrites_it_at_the_configured_work_factor()
    {
        var client = await tokens.RegisterCodeClientAsync("rehash-app");
        var userId = await tokens.RegisterUserAsync("rehash", "rehash-password-1");
        await WeakenStoredHashAsync(userId, "rehash-password-1");
        var before = await StoredHashAsync(userId);
        Assert.Equal(4, WorkFactorOf(before));

        await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rehash", "rehash-password-1");

        var after = await StoredHashAsync(userId);
        Assert.NotEqual(before, after);
        Assert.Equal(5, WorkFactorOf(after));
        // The re-hashed password still logs in.
        await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rehash", "rehash-password-1");
    }

    [Fact]
    public async Task Two_logins_at_once_with_a_weaker_stored_hash_both_succeed_and_one_stronger_hash_is_kept()
    {
        var userId = await tokens.RegisterUserAsync("rehash-race", "rehash-race-password-1");
        await WeakenStoredHashAsync(userId, "rehash-race-password-1");
        await using var first = factory.Services.CreateAsyncScope();
        await using var second = factory.Services.CreateAsyncScope();
        var firstUsers = first.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        var secondUsers = second.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        var firstUser = (await firstUsers.FindByIdAsync(userId))!;
        var secondUser = (await secondUsers.FindByIdAsync(userId))!;   // read before the first login re-hashes

        Assert.True(await firstUsers.CheckPasswordAsync(firstUser, "rehash-race-password-1"));
        Assert.True(await secondUsers.CheckPasswordAsync(secondUser, "rehash-race-password-1"));

        // The second one's re-hash lost to the first: dropped, and nothing stale left for its request's next save.
        Assert.False(second.ServiceProvider.GetRequiredService<IdentityServer.Persistence.ApplicationDbContext>().ChangeTracker.HasChanges());
        Assert.Equal(5, WorkFactorOf(await StoredHashAsync(userId)));
    }

    [Fact]
    public async Task A_failed_login_leaves_a_weaker_stored_hash_alone()
    {
        var client = await tokens.RegisterCodeClientAsync("rehash-failed-app");
        var userId = await tokens.RegisterUserAsync("rehash-failed", "rehash-failed-password-1");
        await WeakenStoredHashAsync(userId, "rehash-failed-password-1");
        var before = await StoredHashAsync(userId);

        await new BrowserSession(factory).SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "rehash-failed", "wrong-password-123");

        Assert.Equal(before, await StoredHashAsync(userId));
    }

    [Fact]
    public async Task Re_hashing_at_login_is_not_a_password_change_and_keeps_other_sessions_refresh_tokens()
    {
        var client = await tokens.RegisterCodeClientAsync("rehash-sessions-app");
        var userId = await tokens.RegisterUserAsync("rehash-sessions", "rehash-sessions-password-1");
        var laptop = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rehash-sessions", "rehash-sessions-password-1");
        await WeakenStoredHashAsync(userId, "rehash-sessions-password-1");

        await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rehash-sessions", "rehash-sessions-password-1");

        Assert.Equal(5, WorkFactorOf(await StoredHashAsync(userId)));
        var refreshed = await tokens.RefreshAsync(client, laptop.Token("refresh_token"));
        Assert.True(refreshed.Status == HttpStatusCode.OK, refreshed.Body.ToString());
    }

    [Fact]
    public async Task A_password_over_72_bytes_is_refused_by_the_admin_api_and_never_logs_in()
    {
        var client = await tokens.RegisterCodeClientAsync("long-password-app");
        var longPassword = new string('a', 72) + "-and-more";

        var (status, body) = await tokens.AdminAsync(HttpMethod.Post, "/admin/users", new { username = "long-password", email = "long@example.test", password = longPassword });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(body.GetProperty("errors").TryGetProperty("password", out _), body.ToString());

        // A user whose password is the first 72 bytes cannot log in with a longer one that BCrypt would truncate to it.
        await tokens.RegisterUserAsync("prefix-user", new string('a', 72));
        var browser = new BrowserSession(factory);
        var response = await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "prefix-user", longPassword);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("login-error"));
    }
}
