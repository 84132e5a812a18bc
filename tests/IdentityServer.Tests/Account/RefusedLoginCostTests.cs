using System.Net;
using IdentityServer.Tests.Infrastructure;
using IdentityServer.Users;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Account;

/// <summary>
/// A refused login costs one BCrypt verify whatever the reason, so its timing does not tell an attacker that an
/// account exists and is disabled or locked out (those are refused before any password check).
/// </summary>
public sealed class RefusedLoginCostTests(RefusedLoginCostTests.CountingFactory factory) : IClassFixture<RefusedLoginCostTests.CountingFactory>
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
            var checks = await factory.Hasher.CountAsync(() => browser.SignInAsync("/account/login", username, password));

            Assert.NotNull(browser.Page!.GetElementById("login-error"));
            Assert.True(checks == 1, $"{username}: {checks} password checks");
        }
    }

    [Fact]
    public async Task Every_refused_password_grant_costs_one_password_check_whether_the_user_is_unknown_or_disabled()
    {
        var client = await tokens.RegisterCodeClientAsync("cost-password-grant", extraGrantTypes: ["password"]);
        var disabledId = await tokens.RegisterUserAsync("cost-grant-disabled", "cost-password-1");
        await tokens.DisableUserAsync(disabledId, "cost-grant-disabled");

        foreach (var username in new[] { "cost-grant-nobody", "cost-grant-disabled" })
        {
            var checks = await factory.Hasher.CountAsync(async () =>
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

    public sealed class CountingFactory : IdentityServerFactory
    {
        public CountingPasswordHasher Hasher { get; private set; } = null!;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddSingleton<IPasswordHasher<ApplicationUser>>(provider =>
                Hasher = new CountingPasswordHasher(provider.GetRequiredService<BcryptPasswordHasher>())));
        }
    }

    /// <summary>The server's hasher, counting the verifications it does.</summary>
    public sealed class CountingPasswordHasher(BcryptPasswordHasher inner) : IPasswordHasher<ApplicationUser>
    {
        private int verifications;

        public async Task<int> CountAsync(Func<Task> act)
        {
            var before = Volatile.Read(ref verifications);
            await act();
            return Volatile.Read(ref verifications) - before;
        }

        public string HashPassword(ApplicationUser user, string password) => inner.HashPassword(user, password);

        public PasswordVerificationResult VerifyHashedPassword(ApplicationUser user, string hashedPassword, string providedPassword)
        {
            Interlocked.Increment(ref verifications);
            return inner.VerifyHashedPassword(user, hashedPassword, providedPassword);
        }
    }
}
