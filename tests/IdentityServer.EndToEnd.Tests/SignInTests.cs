using System.Text.RegularExpressions;
using IdentityServer.EndToEnd.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace IdentityServer.EndToEnd.Tests;

/// <summary>A person at a browser signing in to a third-party app (ClientApp) through IdentityServer.</summary>
[Collection(DeploymentCollection.Name)]
public sealed class SignInTests(Deployment deployment) : BrowserTests(deployment.NewBrowserContextAsync)
{
    private const string Password = "Correct-horse-9";

    [Fact]
    public async Task A_new_user_registers_consents_sees_claims_calls_the_api_and_signs_out()
    {
        var username = NewUsername("newcomer");

        await Page.GotoAsync(deployment.ClientApp.BaseAddress.ToString());
        await Page.ClickAsync("#sign-in");

        // IdentityServer's login page, with a way to create an account.
        await Expect(Page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/login"));
        await Expect(Page.Locator("input#username")).ToBeFocusedAsync();
        await Expect(Page.Locator("#client-context")).ToHaveTextAsync($"to continue to {Deployment.ClientDisplayName}");
        // The stylesheet is served and allowed by the page's Content-Security-Policy.
        await Expect(Page.Locator("button#login")).ToHaveCSSAsync("background-color", "rgb(47, 91, 234)");
        await ScreenshotAsync("login");
        await Page.ClickAsync("#register-link");

        await Expect(Page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/register"));
        await Page.FillAsync("input#username", username);
        await Page.FillAsync("input#email", $"{username}@example.test");
        await Page.FillAsync("input#password", Password);
        await Page.FillAsync("input#confirm-password", Password);
        await ScreenshotAsync("register");
        await Page.ClickAsync("button#register");

        // Consent: the client's display name and the requested scopes in plain words.
        await Expect(Page.Locator("button#accept")).ToBeVisibleAsync();
        await Expect(Page.Locator("#client-name")).ToHaveTextAsync(Deployment.ClientDisplayName);
        await Expect(Page.Locator("#scopes li[data-scope=api1]")).ToContainTextAsync(Deployment.ApiScopeDisplayName);
        await Expect(Page.Locator("#scopes li[data-scope=email]")).ToContainTextAsync("email address");
        await ScreenshotAsync("consent");
        await Page.ClickAsync("button#accept");

        // Back in the app, signed in, with claims from the ID token and the userinfo endpoint.
        await Expect(Page).ToHaveURLAsync(deployment.ClientApp.BaseAddress.ToString());
        await Expect(Page.Locator("#username")).ToHaveTextAsync(username);
        await Expect(Page.Locator("#claims tr[data-claim=sub] td").Nth(1)).Not.ToBeEmptyAsync();
        await Expect(Page.Locator("#claims tr[data-claim=email] td").Nth(1)).ToHaveTextAsync($"{username}@example.test");
        await Expect(Page.Locator("#claims tr[data-claim=preferred_username] td").Nth(1)).ToHaveTextAsync(username);
        await ScreenshotAsync("client-signed-in");

        // The app calls the Orders API with the user's access token.
        await Page.ClickAsync("#call-api");
        await Expect(Page.Locator("#api-status")).ToHaveTextAsync("200 OK");
        await Expect(Page.Locator("#token-status")).ToContainTextAsync("no refresh needed");
        var apiResult = Page.Locator("#api-result");
        await Expect(apiResult).ToContainTextAsync($"\"username\": \"{username}\"");
        await Expect(apiResult).ToContainTextAsync($"\"clientId\": \"{Deployment.ClientId}\"");
        await Expect(apiResult).ToContainTextAsync($"\"{Deployment.ApiResource}\"");
        await Expect(apiResult).ToContainTextAsync("\"api1\"");

        // Sign out goes through IdentityServer's end-session endpoint and comes back to the app.
        await Page.ClickAsync("#sign-out");
        await Expect(Page).ToHaveURLAsync(new Uri(deployment.ClientApp.BaseAddress, "/signed-out").ToString());
        await Expect(Page.Locator("#signed-out")).ToBeVisibleAsync();

        // The session at IdentityServer ended too: signing in again asks for the password.
        await Page.ClickAsync("#sign-in");
        await Expect(Page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/login"));
        await Expect(Page.Locator("button#login")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Registration_errors_are_shown_next_to_their_fields_on_a_phone_sized_screen()
    {
        await Page.SetViewportSizeAsync(390, 844);
        await Page.GotoAsync(deployment.ClientApp.BaseAddress.ToString());
        await Page.ClickAsync("#sign-in");
        await Page.ClickAsync("#register-link");

        await Page.FillAsync("input#username", NewUsername("typo"));
        await Page.FillAsync("input#email", "not-an-email");
        await Page.FillAsync("input#password", Password);
        await Page.FillAsync("input#confirm-password", Password + "x");
        await Page.ClickAsync("button#register");

        await Expect(Page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/register"));
        await Expect(Page.Locator("#email-error")).ToHaveTextAsync("Enter a valid email address.");
        await Expect(Page.Locator("input#email")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(Page.Locator("#confirm-password-error")).ToHaveTextAsync("The passwords do not match.");
        await Expect(Page.Locator("input#confirm-password")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(Page.Locator("input#username")).Not.ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(Page.Locator("#client-context")).ToContainTextAsync(Deployment.ClientDisplayName);

        // Nothing overflows the narrow screen.
        Assert.True(await Page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways");
        await ScreenshotAsync("register-errors-phone");
    }

    [Fact]
    public async Task Denying_consent_sends_the_user_back_to_the_app_with_access_denied()
    {
        var username = NewUsername("refuser");
        await deployment.CreateUserAsync(username, Password);

        await SignInAsync(deployment.ClientApp, username, Password);
        await Expect(Page.Locator("button#deny")).ToBeVisibleAsync();
        await Page.ClickAsync("button#deny");

        await Expect(Page).ToHaveURLAsync(StartsWith(deployment.ClientApp, "/signin-error"));
        await Expect(Page.Locator("#auth-error")).ToHaveAttributeAsync("data-error", "access_denied");
        await Expect(Page.Locator("#auth-error")).ToContainTextAsync("access_denied");
        await Expect(Page.Locator("#username")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_wrong_password_keeps_the_user_on_the_login_page_with_an_error()
    {
        var username = NewUsername("forgetful");
        await deployment.CreateUserAsync(username, Password);

        await SignInAsync(deployment.ClientApp, username, "not-the-password-1");

        await Expect(Page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/login"));
        await Expect(Page.Locator("#login-error")).ToHaveTextAsync("The username or password is incorrect.");
        await Expect(Page.Locator("input#username")).ToHaveValueAsync(username);
        await Expect(Page.Locator("input#password")).ToHaveValueAsync(string.Empty);
        await ScreenshotAsync("login-error");

        // The same page then accepts the right password and the flow carries on to consent.
        await Page.FillAsync("input#password", Password);
        await Page.ClickAsync("button#login");
        await Expect(Page.Locator("button#accept")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_second_login_for_the_same_user_skips_consent()
    {
        var username = await NewUserSignedInAsync(deployment.ClientApp, "regular");

        // Another browser, no cookies at all: the user signs in again, and consent is remembered by the server.
        await StartAFreshBrowserAsync();
        var consentShown = false;
        Page.Response += (_, response) => consentShown |= response.Url.Contains("/connect/authorize", StringComparison.Ordinal) && response.Status == 200;

        await SignInAsync(deployment.ClientApp, username, Password);

        await Expect(Page).ToHaveURLAsync(deployment.ClientApp.BaseAddress.ToString());
        await Expect(Page.Locator("#username")).ToHaveTextAsync(username);
        Assert.False(consentShown, "the consent page was shown again");
    }

    [Fact]
    public async Task The_app_renews_an_expiring_access_token_with_the_refresh_token()
    {
        // This instance treats every access token as about to expire, so each API call first redeems the refresh token.
        var username = await NewUserSignedInAsync(deployment.RenewingClientApp, "longstay");

        for (var call = 1; call <= 2; call++)
        {
            // The second round uses the rotated refresh token the first one stored; reusing the old one would fail.
            await Page.ClickAsync("#call-api");
            await Expect(Page.Locator("#token-status")).ToHaveTextAsync("Access token refreshed before the call.");
            await Expect(Page.Locator("#api-status")).ToHaveTextAsync("200 OK");
            await Expect(Page.Locator("#api-result")).ToContainTextAsync($"\"username\": \"{username}\"");
        }
    }

    [Fact]
    public async Task Signing_out_at_IdentityServer_signs_the_user_out_of_the_app_too()
    {
        await NewUserSignedInAsync(deployment.ClientApp, "single-logout");

        // Signed out at IdentityServer itself (from another app, or its own sign-out page), not through this app.
        await Page.GotoAsync(deployment.ServerUri("/connect/endsession").ToString());
        await Page.ClickAsync("button#logout");
        await Expect(Page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/signed-out"));

        // IdentityServer told the app (back-channel logout): its session is over too.
        await Page.GotoAsync(deployment.ClientApp.BaseAddress.ToString());
        await Expect(Page.Locator("#sign-in")).ToBeVisibleAsync();
        await Expect(Page.Locator("#username")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_user_an_admin_logs_out_everywhere_is_signed_out_of_the_app()
    {
        await NewUserSignedInAsync(deployment.ClientApp, "lost-phone");
        var userId = await Page.Locator("#claims tr[data-claim=sub] td").Nth(1).TextContentAsync();

        await deployment.AdminPostAsync($"/admin/users/{userId!.Trim()}/logout");

        await Page.ReloadAsync();
        await Expect(Page.Locator("#sign-in")).ToBeVisibleAsync();
        await Expect(Page.Locator("#username")).ToHaveCountAsync(0);
    }

    /// <summary>A new user, signed in to the app for the first time (consent given); their username.</summary>
    private async Task<string> NewUserSignedInAsync(HostProcess app, string prefix)
    {
        var username = NewUsername(prefix);
        await deployment.CreateUserAsync(username, Password);
        await SignInAsync(app, username, Password);
        await Page.ClickAsync("button#accept");
        await Expect(Page.Locator("#username")).ToHaveTextAsync(username);
        return username;
    }

    private async Task SignInAsync(HostProcess app, string username, string password)
    {
        await Page.GotoAsync(app.BaseAddress.ToString());
        await Page.ClickAsync("#sign-in");
        await Expect(Page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/login"));
        await Page.FillAsync("input#username", username);
        await Page.FillAsync("input#password", password);
        await Page.ClickAsync("button#login");
    }

    private async Task ScreenshotAsync(string name) =>
        await Page.ScreenshotAsync(new() { Path = Path.Combine(Deployment.ScreenshotDirectory, name + ".png"), FullPage = true });

    private static Regex StartsWith(HostProcess host, string path) =>
        new("^" + Regex.Escape(new Uri(host.BaseAddress, path).ToString()));

    private static string NewUsername(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
}
