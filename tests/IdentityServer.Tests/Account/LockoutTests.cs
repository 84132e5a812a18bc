using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Account;

public sealed class LockoutTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Five_wrong_passwords_lock_the_account_with_the_same_message_until_the_lockout_ends()
    {
        var username = "lock-" + Guid.NewGuid().ToString("N")[..8];
        var userId = await tokens.RegisterUserAsync(username, "lockout-password-1");
        var browser = new BrowserSession(factory);

        for (var attempt = 0; attempt < 5; attempt++)
        {
            await browser.SignInAsync("/account/login", username, "wrong-password-" + attempt);
        }

        var wrongMessage = browser.Page!.GetElementById("login-error")!.TextContent;
        var locked = await browser.SignInAsync("/account/login", username, "lockout-password-1");

        Assert.Equal(HttpStatusCode.OK, locked.StatusCode);
        Assert.Equal(wrongMessage, browser.Page!.GetElementById("login-error")!.TextContent);
        var (_, audit) = await tokens.AdminAsync(HttpMethod.Get, $"/admin/audit?action=login.locked_out&target={userId}");
        Assert.NotEmpty(audit.GetProperty("items").EnumerateArray());

        // The password grant is locked too.
        var client = await tokens.RegisterCodeClientAsync("lockout-app-" + username, extraGrantTypes: ["password"]);
        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = username, ["password"] = "lockout-password-1", ["scope"] = "openid",
        }, client.ClientId, client.Secret);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_grant", body.GetProperty("error").GetString());

        // After the 15-minute lockout the right password works again.
        factory.Time.Advance(TimeSpan.FromMinutes(16));
        await browser.SignInAsync("/account/login", username, "lockout-password-1");
        Assert.Null(browser.Page!.GetElementById("login-error"));
        Assert.Contains("Signed in as", browser.Page.Body!.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Locking_an_account_with_wrong_passwords_does_not_end_the_apps_it_is_already_signed_in_to()
    {
        // Lockout guards the password against guessing; anyone can trigger it, so it must not be a way to cut a user
        // off from their apps (as in Keycloak, where a temporary lockout leaves sessions alone).
        var username = "lock-" + Guid.NewGuid().ToString("N")[..8];
        var (client, refreshToken) = await tokens.SignedInUserAsync(factory, "lockout-keeps-" + username, username);

        for (var attempt = 0; attempt < 5; attempt++)
        {
            await new BrowserSession(factory).SignInAsync("/account/login", username, "wrong-password-" + attempt);
        }

        var locked = new BrowserSession(factory);
        await locked.SignInAsync("/account/login", username, username + "-password");
        Assert.NotNull(locked.Page!.GetElementById("login-error"));

        var (status, body) = await tokens.RefreshAsync(client, refreshToken);
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {body}");
    }
}
