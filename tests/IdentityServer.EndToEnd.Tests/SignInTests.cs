using System.Text.RegularExpressions;
using IdentityServer.EndToEnd.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace IdentityServer.EndToEnd.Tests;

/// <summary>A person at a browser signing in to a third-party app (ClientApp) through IdentityServer.</summary>
[Collection(DeploymentCollection.Name)]
public sealed class SignInTests(Deployment deployment) : IAsyncLifetime
{
    private const string Password = "Correct-horse-9";

    private IBrowserContext browser = null!;
    private IPage page = null!;

    public async Task InitializeAsync()
    {
        browser = await deployment.NewBrowserContextAsync();
        page = await browser.NewPageAsync();
    }

    public async Task DisposeAsync() => await browser.DisposeAsync();

    [Fact]
    public async Task A_new_user_registers_consents_sees_claims_calls_the_api_and_signs_out()
    {
        var username = NewUsername("newcomer");

        await page.GotoAsync(deployment.ClientApp.BaseAddress.ToString());
        await page.ClickAsync("#sign-in");

        // IdentityServer's login page, with a way to create an account.
        await Expect(page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/login"));
        await Expect(page.Locator("input#username")).ToBeFocusedAsync();
        await Expect(page.Locator("#client-context")).ToHaveTextAsync($"to continue to {Deployment.ClientDisplayName}");
        // The stylesheet is served and allowed by the page's Content-Security-Policy.
        await Expect(page.Locator("button#login")).ToHaveCSSAsync("background-color", "rgb(47, 91, 234)");
        await ScreenshotAsync("login");
        await page.ClickAsync("#register-link");

        await Expect(page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/register"));
        await page.FillAsync("input#username", username);
        await page.FillAsync("input#email", $"{username}@example.test");
        await page.FillAsync("input#password", Password);
        await page.FillAsync("input#confirm-password", Password);
        await ScreenshotAsync("register");
        await page.ClickAsync("button#register");

        // Consent: the client's display name and the requested scopes in plain words.
        await Expect(page.Locator("button#accept")).ToBeVisibleAsync();
        await Expect(page.Locator("#client-name")).ToHaveTextAsync(Deployment.ClientDisplayName);
        await Expect(page.Locator("#scopes li[data-scope=api1]")).ToContainTextAsync(Deployment.ApiScopeDisplayName);
        await Expect(page.Locator("#scopes li[data-scope=email]")).ToContainTextAsync("email address");
        await ScreenshotAsync("consent");
        await page.ClickAsync("button#accept");

        // Back in the app, signed in, with claims from the ID token and the userinfo endpoint.
        await Expect(page).ToHaveURLAsync(deployment.ClientApp.BaseAddress.ToString());
        await Expect(page.Locator("#username")).ToHaveTextAsync(username);
        await Expect(page.Locator("#claims tr[data-claim=sub] td").Nth(1)).Not.ToBeEmptyAsync();
        await Expect(page.Locator("#claims tr[data-claim=email] td").Nth(1)).ToHaveTextAsync($"{username}@example.test");
        await Expect(page.Locator("#claims tr[data-claim=preferred_username] td").Nth(1)).ToHaveTextAsync(username);
        await ScreenshotAsync("client-signed-in");

        // The app calls the Orders API with the user's access token.
        await page.ClickAsync("#call-api");
        await Expect(page.Locator("#api-status")).ToHaveTextAsync("200 OK");
        await Expect(page.Locator("#token-status")).ToContainTextAsync("no refresh needed");
        var apiResult = page.Locator("#api-result");
        await Expect(apiResult).ToContainTextAsync($"\"username\": \"{username}\"");
        await Expect(apiResult).ToContainTextAsync($"\"clientId\": \"{Deployment.ClientId}\"");
        await Expect(apiResult).ToContainTextAsync($"\"{Deployment.ApiResource}\"");
        await Expect(apiResult).ToContainTextAsync("\"api1\"");

        // Sign out goes through IdentityServer's end-session endpoint and comes back to the app.
        await page.ClickAsync("#sign-out");
        await Expect(page).ToHaveURLAsync(new Uri(deployment.ClientApp.BaseAddress, "/signed-out").ToString());
        await Expect(page.Locator("#signed-out")).ToBeVisibleAsync();

        // The session at IdentityServer ended too: signing in again asks for the password.
        await page.ClickAsync("#sign-in");
        await Expect(page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/login"));
        await Expect(page.Locator("button#login")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Registration_errors_are_shown_next_to_their_fields_on_a_phone_sized_screen()
    {
        await page.SetViewportSizeAsync(390, 844);
        await page.GotoAsync(deployment.ClientApp.BaseAddress.ToString());
        await page.ClickAsync("#sign-in");
        await page.ClickAsync("#register-link");

        await page.FillAsync("input#username", NewUsername("typo"));
        await page.FillAsync("input#email", "not-an-email");
        await page.FillAsync("input#password", Password);
        await page.FillAsync("input#confirm-password", Password + "x");
        await page.ClickAsync("button#register");

        await Expect(page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/register"));
        await Expect(page.Locator("#email-error")).ToHaveTextAsync("Enter a valid email address.");
        await Expect(page.Locator("input#email")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.Locator("#confirm-password-error")).ToHaveTextAsync("The passwords do not match.");
        await Expect(page.Locator("input#confirm-password")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.Locator("input#username")).Not.ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.Locator("#client-context")).ToContainTextAsync(Deployment.ClientDisplayName);

        // Nothing overflows the narrow screen.
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways");
        await ScreenshotAsync("register-errors-phone");
    }

    [Fact]
    public async Task Denying_consent_sends_the_user_back_to_the_app_with_access_denied()
    {
        var username = NewUsername("refuser");
        await deployment.CreateUserAsync(username, Password);

        await SignInAsync(deployment.ClientApp, username, Password);
        await Expect(page.Locator("button#deny")).ToBeVisibleAsync();
        await page.ClickAsync("button#deny");

        await Expect(page).ToHaveURLAsync(StartsWith(deployment.ClientApp, "/signin-error"));
        await Expect(page.Locator("#auth-error")).ToHaveAttributeAsync("data-error", "access_denied");
        await Expect(page.Locator("#auth-error")).ToContainTextAsync("access_denied");
        await Expect(page.Locator("#username")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_wrong_password_keeps_the_user_on_the_login_page_with_an_error()
    {
        var username = NewUsername("forgetful");
        await deployment.CreateUserAsync(username, Password);

        await SignInAsync(deployment.ClientApp, username, "not-the-password-1");

        await Expect(page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/login"));
        await Expect(page.Locator("#login-error")).ToHaveTextAsync("The username or password is incorrect.");
        await Expect(page.Locator("input#username")).ToHaveValueAsync(username);
        await Expect(page.Locator("input#password")).ToHaveValueAsync(string.Empty);
        await ScreenshotAsync("login-error");

        // The same page then accepts the right password and the flow carries on to consent.
        await page.FillAsync("input#password", Password);
        await page.ClickAsync("button#login");
        await Expect(page.Locator("button#accept")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_second_login_for_the_same_user_skips_consent()
    {
        var username = NewUsername("regular");
        await deployment.CreateUserAsync(username, Password);

        await SignInAsync(deployment.ClientApp, username, Password);
        await page.ClickAsync("button#accept");
        await Expect(page.Locator("#username")).ToHaveTextAsync(username);

        // Another browser, no cookies at all: the user signs in again, and consent is remembered by the server.
        await browser.DisposeAsync();
        browser = await deployment.NewBrowserContextAsync();
        page = await browser.NewPageAsync();
        var consentShown = false;
        page.Response += (_, response) => consentShown |= response.Url.Contains("/connect/authorize", StringComparison.Ordinal) && response.Status == 200;

        await SignInAsync(deployment.ClientApp, username, Password);

        await Expect(page).ToHaveURLAsync(deployment.ClientApp.BaseAddress.ToString());
        await Expect(page.Locator("#username")).ToHaveTextAsync(username);
        Assert.False(consentShown, "the consent page was shown again");
    }

    [Fact]
    public async Task The_app_renews_an_expiring_access_token_with_the_refresh_token()
    {
        var username = NewUsername("longstay");
        await deployment.CreateUserAsync(username, Password);

        // This instance treats every access token as about to expire, so each API call first redeems the refresh token.
        await SignInAsync(deployment.RenewingClientApp, username, Password);
        await page.ClickAsync("button#accept");
        await Expect(page.Locator("#username")).ToHaveTextAsync(username);

        for (var call = 1; call <= 2; call++)
        {
            // The second round uses the rotated refresh token the first one stored; reusing the old one would fail.
            await page.ClickAsync("#call-api");
            await Expect(page.Locator("#token-status")).ToHaveTextAsync("Access token refreshed before the call.");
            await Expect(page.Locator("#api-status")).ToHaveTextAsync("200 OK");
            await Expect(page.Locator("#api-result")).ToContainTextAsync($"\"username\": \"{username}\"");
        }
    }

    private async Task SignInAsync(HostProcess app, string username, string password)
    {
        await page.GotoAsync(app.BaseAddress.ToString());
        await page.ClickAsync("#sign-in");
        await Expect(page).ToHaveURLAsync(StartsWith(deployment.IdentityServer, "/account/login"));
        await page.FillAsync("input#username", username);
        await page.FillAsync("input#password", password);
        await page.ClickAsync("button#login");
    }

    private async Task ScreenshotAsync(string name) =>
        await page.ScreenshotAsync(new() { Path = Path.Combine(Deployment.ScreenshotDirectory, name + ".png"), FullPage = true });

    private static Regex StartsWith(HostProcess host, string path) =>
        new("^" + Regex.Escape(new Uri(host.BaseAddress, path).ToString()));

    private static string NewUsername(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
}
