using System.Net;
using IdentityServer.Tests.Infrastructure;
using IdentityServer.Users;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Connect;

/// <summary>A password grant checks the user, then spends a BCrypt verify; an admin can act in between.</summary>
public sealed class PasswordGrantRaceTests(PasswordGrantRaceTests.HeldVerifyFactory factory)
    : IClassFixture<PasswordGrantRaceTests.HeldVerifyFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task A_user_disabled_while_their_password_is_being_checked_gets_no_tokens()
    {
        var client = await tokens.RegisterCodeClientAsync("password-race", extraGrantTypes: ["password"]);
        var userId = await tokens.RegisterUserAsync("pia", "pia-password-1");

        var (status, body) = await factory.Hold.AroundAsync(
            () => tokens.TokenAsync(new Dictionary<string, string>
            {
                ["grant_type"] = "password",
                ["username"] = "pia",
                ["password"] = "pia-password-1",
                ["scope"] = "openid offline_access",
            }, client.ClientId, client.Secret),
            () => tokens.DisableUserAsync(userId, "pia"));

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {body}");
        Assert.Equal("invalid_grant", body.Error());
        Assert.Null(body.OptionalToken("access_token"));
    }

    public sealed class HeldVerifyFactory : IdentityServerFactory
    {
        public ServerHold Hold { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddSingleton<IPasswordHasher<ApplicationUser>>(provider =>
                new HeldPasswordHasher(provider.GetRequiredService<BcryptPasswordHasher>(), Hold)));
        }
    }

    /// <summary>Verifies as the server does, first waiting while the test holds it (Identity's hasher is synchronous).</summary>
    private sealed class HeldPasswordHasher(BcryptPasswordHasher inner, ServerHold hold) : IPasswordHasher<ApplicationUser>
    {
        public string HashPassword(ApplicationUser user, string password) => inner.HashPassword(user, password);

        public PasswordVerificationResult VerifyHashedPassword(ApplicationUser user, string hashedPassword, string providedPassword)
        {
            hold.ArriveAsync().GetAwaiter().GetResult();
            return inner.VerifyHashedPassword(user, hashedPassword, providedPassword);
        }
    }
}
