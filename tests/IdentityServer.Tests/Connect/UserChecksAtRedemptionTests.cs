using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

/// <summary>Every code or refresh-token redemption looks at the user again.</summary>
public sealed class UserChecksAtRedemptionTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private async Task<(TestClient Client, string UserId, string RefreshToken)> LoggedInAsync(string name)
    {
        var client = await tokens.RegisterCodeClientAsync($"{name}-app");
        var userId = await tokens.RegisterUserAsync(name, $"{name}-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, name, $"{name}-password-1");
        return (client, userId, body.Token("refresh_token"));
    }

    [Fact]
    public async Task A_disabled_user_cannot_refresh()
    {
        var (client, userId, refreshToken) = await LoggedInAsync("disabled-refresh");

        await tokens.DisableUserAsync(userId, "disabled-refresh");

        ProtocolHelpers.AssertOAuthError(await tokens.RefreshAsync(client, refreshToken), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task A_deleted_user_cannot_refresh()
    {
        var (client, userId, refreshToken) = await LoggedInAsync("deleted-refresh");

        await tokens.DeleteUserAsync(userId);

        ProtocolHelpers.AssertOAuthError(await tokens.RefreshAsync(client, refreshToken), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task A_user_whose_password_was_reset_cannot_refresh_tokens_from_before()
    {
        var (client, userId, refreshToken) = await LoggedInAsync("reset-refresh");

        await tokens.ResetPasswordAsync(userId, "a-brand-new-password-1");

        ProtocolHelpers.AssertOAuthError(await tokens.RefreshAsync(client, refreshToken), HttpStatusCode.BadRequest, "invalid_grant");
        // The new password works, and so do the tokens it brings.
        var fresh = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "reset-refresh", "a-brand-new-password-1");
        Assert.Equal(HttpStatusCode.OK, (await tokens.RefreshAsync(client, fresh.Token("refresh_token"))).Status);
    }

    [Fact]
    public async Task A_browser_session_from_before_a_password_reset_must_sign_in_again()
    {
        var client = await tokens.RegisterCodeClientAsync("reset-session-app");
        var userId = await tokens.RegisterUserAsync("reset-session", "old-session-password-1");
        var browser = new BrowserSession(factory);
        await tokens.LogInAndRedeemAsync(browser, client, "reset-session", "old-session-password-1");

        await tokens.ResetPasswordAsync(userId, "new-session-password-1");
        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()));

        Assert.Null(response.Headers.Location);
        Assert.NotNull(browser.Page!.GetElementById("login"));
    }

    [Fact]
    public async Task A_user_an_admin_logs_out_everywhere_loses_sessions_and_tokens_but_keeps_the_password()
    {
        var client = await tokens.RegisterCodeClientAsync("logout-everywhere-app");
        var userId = await tokens.RegisterUserAsync("lost-phone", "lost-phone-password-1");
        var browser = new BrowserSession(factory);
        var body = await tokens.LogInAndRedeemAsync(browser, client, "lost-phone", "lost-phone-password-1");

        var (status, _) = await tokens.AdminAsync(HttpMethod.Post, $"/admin/users/{userId}/logout");

        Assert.Equal(HttpStatusCode.NoContent, status);
        ProtocolHelpers.AssertOAuthError(await tokens.RefreshAsync(client, body.Token("refresh_token")), HttpStatusCode.BadRequest, "invalid_grant");
        Assert.False((await tokens.IntrospectAsync(body.Token("access_token"), client.ClientId, client.Secret!)).GetProperty("active").GetBoolean());
        // The browser that was signed in meets the login page again, where the same password still works.
        var again = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()));
        Assert.Null(again.Headers.Location);
        Assert.NotNull(browser.Page!.GetElementById("login"));
        var fresh = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "lost-phone", "lost-phone-password-1");
        Assert.Equal(HttpStatusCode.OK, (await tokens.RefreshAsync(client, fresh.Token("refresh_token"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await tokens.AdminAsync(HttpMethod.Post, $"/admin/users/{Guid.NewGuid()}/logout")).Status);
    }

    [Fact]
    public async Task Changing_a_users_profile_does_not_end_their_refresh_tokens()
    {
        var (client, userId, refreshToken) = await LoggedInAsync("profile-refresh");

        var (status, _) = await tokens.AdminAsync(HttpMethod.Put, $"/admin/users/{userId}",
            new { username = "profile-refresh", email = "renamed@example.test", enabled = true, roles = new[] { "editor" } });
        Assert.Equal(HttpStatusCode.OK, status);

        var refreshed = await tokens.RefreshAsync(client, refreshToken);
        Assert.Equal(HttpStatusCode.OK, refreshed.Status);
        var access = await tokens.ValidateAccessTokenAsync(refreshed.Body.Token("access_token"));
        Assert.Equal("renamed@example.test", access.GetClaim("email").Value);
        Assert.Equal("editor", access.GetClaim("role").Value);
    }

    [Fact]
    public async Task A_code_redeemed_after_the_user_was_disabled_gets_invalid_grant()
    {
        var client = await tokens.RegisterCodeClientAsync("disabled-code-app");
        var userId = await tokens.RegisterUserAsync("disabled-code", "disabled-code-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var code = await OAuthFlows.CodeFromAsync(
            await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "disabled-code", "disabled-code-password-1"), client);

        await tokens.DisableUserAsync(userId, "disabled-code");

        ProtocolHelpers.AssertOAuthError(await tokens.RedeemCodeAsync(client, code, pkce), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task A_disabled_user_cannot_log_in_even_with_the_right_password()
    {
        var client = await tokens.RegisterCodeClientAsync("disabled-login-app");
        var userId = await tokens.RegisterUserAsync("disabled-login", "disabled-login-password-1");
        await tokens.DisableUserAsync(userId, "disabled-login");
        var browser = new BrowserSession(factory);

        var response = await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "disabled-login", "disabled-login-password-1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("login-error"));
    }

    [Fact]
    public async Task A_replayed_code_gets_invalid_grant_and_revokes_the_tokens_issued_from_it()
    {
        var client = await tokens.RegisterCodeClientAsync("code-replay-app");
        await tokens.RegisterUserAsync("code-replay", "code-replay-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var code = await OAuthFlows.CodeFromAsync(
            await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "code-replay", "code-replay-password-1"), client);
        var (status, first) = await tokens.RedeemCodeAsync(client, code, pkce);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True((await tokens.IntrospectAsync(first.Token("access_token"), client.ClientId, client.Secret!)).GetProperty("active").GetBoolean());

        var replay = await tokens.RedeemCodeAsync(client, code, pkce);

        ProtocolHelpers.AssertOAuthError(replay, HttpStatusCode.BadRequest, "invalid_grant");
        Assert.False((await tokens.IntrospectAsync(first.Token("access_token"), client.ClientId, client.Secret!)).GetProperty("active").GetBoolean());
        ProtocolHelpers.AssertOAuthError(await tokens.RefreshAsync(client, first.Token("refresh_token")), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task An_expired_code_gets_invalid_grant()
    {
        var client = await tokens.RegisterCodeClientAsync("code-expired-app");
        await tokens.RegisterUserAsync("code-expired", "code-expired-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var code = await OAuthFlows.CodeFromAsync(
            await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "code-expired", "code-expired-password-1"), client);

        factory.Time.Advance(TimeSpan.FromMinutes(3));

        ProtocolHelpers.AssertOAuthError(await tokens.RedeemCodeAsync(client, code, pkce), HttpStatusCode.BadRequest, "invalid_grant");
    }
}
