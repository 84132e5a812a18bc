using System.Net;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Account;

/// <summary>
/// A refused login costs one BCrypt verify whatever the reason, so its timing does not tell an attacker that an
/// account exists and is disabled or locked out (those are refused before any password check).
/// </summary>
public sealed class RefusedLoginCostTests(PasswordRecordingFactory factory) : IClassFixture<PasswordRecordingFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Every_refused_login_costs_one_password_check_whether_the_user_is_unknown_disabled_locked_out_or_mistyped()
    {
        await tokens.RegisterUserAsync("cost-mistyped", "cost-password-1");
        var disabledId = await tokens.RegisterUserAsync("cost-disabled", "cost-password-1");
        await tokens.DisableUserAsync(disabledId, "cost-disabled");
        await tokens.RegisterUserAsync("cost-locked", "cost-password-1");
        for (var attempt = 0; attempt < 5; attempt++)
        {
            await new BrowserSession(factory).SignInAsync("/account/login", "cost-locked", "wrong-" + attempt);
        }

        foreach (var (username, password) in new[]
        {
            ("cost-nobody", "cost-password-1"), ("cost-mistyped", "wrong"), ("cost-disabled", "cost-password-1"),
            ("cost-locked", "cost-password-1"),
        })
        {
            var browser = new BrowserSession(factory);
            var checks = await factory.Hasher.CountVerificationsAsync(() => browser.SignInAsync("/account/login", username, password));

            Assert.NotNull(browser.Page!.GetElementById("login-error"));
            Assert.True(checks == 1, $"{username}: {checks} password checks");
        }
    }

    [Fact]
    public async Task A_login_to_an_account_without_a_password_is_refused_after_one_password_check_like_a_mistyped_one()
    {
        var id = await tokens.RegisterUserAsync("cost-no-password", "cost-password-1");
        using (var scope = factory.Services.CreateScope())
        {
            await scope.ServiceProvider.GetRequiredService<ApplicationDbContext>().Users.Where(user => user.Id == id)
                .ExecuteUpdateAsync(set => set.SetProperty(user => user.PasswordHash, (string?)null));
        }

        var browser = new BrowserSession(factory);
        var checks = await factory.Hasher.CountVerificationsAsync(() => browser.SignInAsync("/account/login", "cost-no-password", "cost-password-1"));

        Assert.NotNull(browser.Page!.GetElementById("login-error"));
        Assert.Equal(1, checks);
    }

    [Fact]
    public async Task Every_refused_password_grant_costs_one_password_check_whether_the_user_is_unknown_or_disabled()
    {
        var client = await tokens.RegisterCodeClientAsync("cost-password-grant", extraGrantTypes: ["password"]);
        var disabledId = await tokens.RegisterUserAsync("cost-grant-disabled", "cost-password-1");
        await tokens.DisableUserAsync(disabledId, "cost-grant-disabled");

        foreach (var username in new[] { "cost-grant-nobody", "cost-grant-disabled" })
        {
            var checks = await factory.Hasher.CountVerificationsAsync(async () =>
            {
                var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
                {
                    ["grant_type"] = "password", ["username"] = username, ["password"] = "cost-password-1", ["scope"] = "openid",
                }, client.ClientId, client.Secret);
                Assert.True(status == HttpStatusCode.BadRequest, $"{username}: {(int)status} {body}");
            });

            Assert.True(checks == 1, $"{username}: {checks} password checks");
        }
    }
}
