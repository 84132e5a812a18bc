using System.Net;
using IdentityServer.Tests.Infrastructure;
using IdentityServer.Users;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Users;

/// <summary>
/// Two accounts registered at once with one email address: both pass the uniqueness check (it reads before it
/// writes), forced here by holding each request after its checks until the other has passed them too.
/// </summary>
public sealed class UniqueEmailRaceTests(UniqueEmailRaceTests.RaceFactory factory) : IClassFixture<UniqueEmailRaceTests.RaceFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Of_two_registrations_at_once_with_one_email_exactly_one_account_is_created_and_the_other_sees_an_error()
    {
        var first = await RegistrationPageAsync();
        var second = await RegistrationPageAsync();
        factory.AfterChecks.Arm(2);

        await Task.WhenAll(
            first.ClickAsync("register", Form("twin-one", "twin@example.test", "twin-password-1")),
            second.ClickAsync("register", Form("twin-two", "TWIN@example.test", "twin-password-2")));

        Assert.Equal(2, factory.AfterChecks.Arrived);
        var browsers = new[] { first, second };
        var winner = Assert.Single(browsers, b => b.Page!.GetElementById("register") is null);
        var loser = Assert.Single(browsers, b => b.Page!.GetElementById("register") is not null);
        var errors = string.Join(" | ", loser.Page!.QuerySelectorAll(".field-error, .form-error").Select(e => e.TextContent.Trim()));
        Assert.Contains("taken", errors, StringComparison.OrdinalIgnoreCase);

        // The address signs in to exactly one account.
        var winnerPassword = winner == first ? "twin-password-1" : "twin-password-2";
        var client = await tokens.RegisterCodeClientAsync("twin-app");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "twin@example.test", winnerPassword);
        Assert.False(string.IsNullOrEmpty(body.Token("access_token")));
    }

    private async Task<BrowserSession> RegistrationPageAsync()
    {
        var browser = new BrowserSession(factory);
        await browser.GoAsync("/account/register");
        return browser;
    }

    private static Dictionary<string, string> Form(string username, string email, string password) => new()
    {
        ["username"] = username, ["email"] = email, ["password"] = password, ["confirm-password"] = password,
    };

    public sealed class RaceFactory : IdentityServerFactory
    {
        public Rendezvous AfterChecks { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            // Registered after the server's validators, so it runs once they have passed.
            builder.ConfigureTestServices(services => services.AddScoped<IUserValidator<ApplicationUser>>(_ => new HoldAfterChecks(AfterChecks)));
        }
    }

    private sealed class HoldAfterChecks(Rendezvous rendezvous) : IUserValidator<ApplicationUser>
    {
        public async Task<IdentityResult> ValidateAsync(UserManager<ApplicationUser> manager, ApplicationUser user)
        {
            await rendezvous.ArriveAsync();
            return IdentityResult.Success;
        }
    }
}
