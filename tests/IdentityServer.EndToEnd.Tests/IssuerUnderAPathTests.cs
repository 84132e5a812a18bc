using System.Text.RegularExpressions;
using IdentityServer.EndToEnd.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace IdentityServer.EndToEnd.Tests;

/// <summary>
/// The app (ASP.NET Core's OpenID Connect handler) and the API (JwtBearer) configured with an authority that has a
/// path, finding everything from its discovery document, with a person signing in through Chromium.
/// </summary>
[Collection(DeploymentUnderAPathCollection.Name)]
public sealed class IssuerUnderAPathTests(DeploymentUnderAPath deployment) : BrowserTests(deployment.NewBrowserContextAsync)
{
    private const string Password = "Correct-horse-9";

    [Fact]
    public async Task A_person_signs_in_to_an_app_whose_authority_has_a_path_the_api_accepts_the_token_and_signing_out_ends_the_session()
    {
        var username = await SignInAndConsentAsync(deployment.ClientApp, "pathfinder");

        await Expect(Page).ToHaveURLAsync(deployment.ClientApp.BaseAddress.ToString());
        await Page.ClickAsync("#call-api");
        await Expect(Page.Locator("#api-status")).ToHaveTextAsync("200 OK");
        await Expect(Page.Locator("#api-result")).ToContainTextAsync($"\"username\": \"{username}\"");

        await Page.ClickAsync("#sign-out");
        await Expect(Page).ToHaveURLAsync(new Uri(deployment.ClientApp.BaseAddress, "/signed-out").ToString());
        await Page.ClickAsync("#sign-in");
        await Expect(Page).ToHaveURLAsync(StartsWithServerPath("/account/login"));
        await Expect(Page.Locator("button#login")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_refresh_through_the_path_keeps_the_app_calling_the_api()
    {
        await SignInAndConsentAsync(deployment.RenewingClientApp, "longpath");

        await Page.ClickAsync("#call-api");
        await Expect(Page.Locator("#token-status")).ToHaveTextAsync("Access token refreshed before the call.");
        await Expect(Page.Locator("#api-status")).ToHaveTextAsync("200 OK");
    }

    /// <summary>A new user signs in to the app on the login page under the issuer's path and consents.</summary>
    private async Task<string> SignInAndConsentAsync(HostProcess app, string prefix)
    {
        var username = $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
        await deployment.CreateUserAsync(username, Password);
        await Page.GotoAsync(app.BaseAddress.ToString());
        await Page.ClickAsync("#sign-in");

        // The login page is under the issuer's path, styled, and knows which app it serves.
        await Expect(Page).ToHaveURLAsync(StartsWithServerPath("/account/login"));
        await Expect(Page.Locator("#client-context")).ToHaveTextAsync($"to continue to {Deployment.ClientDisplayName}");
        await Expect(Page.Locator("button#login")).ToHaveCSSAsync("background-color", "rgb(47, 91, 234)");
        await Page.FillAsync("input#username", username);
        await Page.FillAsync("input#password", Password);
        await Page.ClickAsync("button#login");
        await Expect(Page).ToHaveURLAsync(StartsWithServerPath("/connect/authorize"));
        await Page.ClickAsync("button#accept");
        await Expect(Page.Locator("#username")).ToHaveTextAsync(username);
        return username;
    }

    private Regex StartsWithServerPath(string path) => new("^" + Regex.Escape(deployment.ServerUri(path).ToString()));
}
