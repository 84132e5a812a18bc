using System.Net;
using Microsoft.Extensions.DependencyInjection;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class ConsentTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task A_client_with_explicit_consent_shows_its_name_and_the_requested_scopes()
    {
        var client = await tokens.RegisterCodeClientAsync("consent-page", consentType: "explicit");
        await tokens.RegisterUserAsync("carol", "carol-password-1");
        var browser = new BrowserSession(factory);

        var response = await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), "openid profile email"), "carol", "carol-password-1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = browser.Page!;
        Assert.Contains("The consent-page app", page.GetElementById("client-name")!.TextContent, StringComparison.Ordinal);
        var scopes = page.QuerySelectorAll("#scopes li").Select(li => li.GetAttribute("data-scope")).ToList();
        Assert.Equal(["openid", "profile", "email"], scopes);
        // Each in plain words, with its name for the developer testing the app.
        Assert.All(page.QuerySelectorAll("#scopes li"), li => Assert.Contains(li.GetAttribute("data-scope")!, li.TextContent, StringComparison.Ordinal));
        Assert.NotNull(page.GetElementById("accept"));
        Assert.NotNull(page.GetElementById("deny"));
        Assert.NotNull(page.QuerySelector("input[name=__RequestVerificationToken]"));
    }

    [Fact]
    public async Task Accepting_consent_gives_the_client_a_code_that_redeems_for_tokens()
    {
        var client = await tokens.RegisterCodeClientAsync("consent-accept", consentType: "explicit");
        var userId = await tokens.RegisterUserAsync("dave", "dave-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();

        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "dave", "dave-password-1");
        Assert.NotNull(browser.Page!.GetElementById("accept"));
        var response = await browser.ClickAsync("accept");

        var code = await OAuthFlows.CodeFromAsync(response, client);
        var (status, body) = await tokens.RedeemCodeAsync(client, code, pkce);
        Assert.Equal(HttpStatusCode.OK, status);
        var access = await tokens.ValidateAccessTokenAsync(body.Token("access_token"));
        Assert.Equal(userId, access.Subject);
        Assert.False(string.IsNullOrEmpty(body.OptionalToken("refresh_token")));
    }

    [Fact]
    public async Task Denying_consent_sends_the_browser_back_with_access_denied_and_the_state()
    {
        var client = await tokens.RegisterCodeClientAsync("consent-deny", consentType: "explicit");
        await tokens.RegisterUserAsync("erin", "erin-password-1");
        var browser = new BrowserSession(factory);

        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), state: "deny-state"), "erin", "erin-password-1");
        var response = await browser.ClickAsync("deny");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith(client.RedirectUri, response.Headers.Location!.ToString(), StringComparison.Ordinal);
        var parameters = BrowserSession.CallbackParameters(response);
        Assert.Equal("access_denied", parameters["error"]);
        Assert.Equal("deny-state", parameters["state"]);
        Assert.False(parameters.ContainsKey("code"));
    }

    [Fact]
    public async Task Consent_once_given_is_remembered_for_the_next_authorization_request()
    {
        var client = await tokens.RegisterCodeClientAsync("consent-remembered", consentType: "explicit");
        await tokens.RegisterUserAsync("frank", "frank-password-1");
        var browser = new BrowserSession(factory);
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "frank", "frank-password-1");
        await OAuthFlows.CodeFromAsync(await browser.ClickAsync("accept"), client);

        var pkce = Pkce.Create();
        var second = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, state: "again"));

        var code = await OAuthFlows.CodeFromAsync(second, client, state: "again");
        var (status, _) = await tokens.RedeemCodeAsync(client, code, pkce);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Consenting_again_when_prompted_keeps_one_remembered_consent()
    {
        var client = await tokens.RegisterCodeClientAsync("consent-prompted-twice", consentType: "explicit");
        var userId = await tokens.RegisterUserAsync("twice-tara", "tara-password-1");
        var browser = new BrowserSession(factory);
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "twice-tara", "tara-password-1");
        await OAuthFlows.CodeFromAsync(await browser.ClickAsync("accept"), client);

        for (var again = 0; again < 2; again++)
        {
            await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "consent" }));
            await OAuthFlows.CodeFromAsync(await browser.ClickAsync("accept"), client);
        }

        // Every request asked, but the consent is stored once, not once per question.
        await using var scope = factory.Services.CreateAsyncScope();
        var authorizations = scope.ServiceProvider.GetRequiredService<OpenIddict.Abstractions.IOpenIddictAuthorizationManager>();
        var remembered = await authorizations.FindBySubjectAsync(userId)
            .Where(async (authorization, cancellationToken) =>
                await authorizations.GetTypeAsync(authorization, cancellationToken) == OpenIddict.Abstractions.OpenIddictConstants.AuthorizationTypes.Permanent)
            .CountAsync();
        Assert.Equal(1, remembered);
    }

    [Fact]
    public async Task Prompt_consent_asks_even_a_client_with_implicit_consent_and_is_not_remembered()
    {
        // OpenID Connect Core 3.1.2.1: with prompt=consent the server asks before giving the client anything.
        var client = await tokens.RegisterCodeClientAsync("consent-prompted", consentType: "implicit");
        await tokens.RegisterUserAsync("prompted-petra", "petra-password-1");
        var browser = new BrowserSession(factory);

        var asked = await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "consent" }), "prompted-petra", "petra-password-1");
        Assert.Equal(HttpStatusCode.OK, asked.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("accept"));
        await OAuthFlows.CodeFromAsync(await browser.ClickAsync("accept"), client);

        var pkce = Pkce.Create();
        var without = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, state: "plain"));
        var code = await OAuthFlows.CodeFromAsync(without, client, state: "plain");
        Assert.Equal(HttpStatusCode.OK, (await tokens.RedeemCodeAsync(client, code, pkce)).Status);

        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "consent" }));
        var denied = await browser.ClickAsync("deny");
        await ProtocolHelpers.AssertSentBackToTheClientAsync(denied, client, "access_denied");
    }

    [Fact]
    public async Task Denying_consent_is_not_remembered_and_the_next_request_asks_again()
    {
        var client = await tokens.RegisterCodeClientAsync("consent-deny-again", consentType: "explicit");
        await tokens.RegisterUserAsync("gina", "gina-password-1");
        var browser = new BrowserSession(factory);
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "gina", "gina-password-1");
        await browser.ClickAsync("deny");

        var second = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()));

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("accept"));
    }

    [Fact]
    public async Task Prompt_none_without_stored_consent_gets_consent_required()
    {
        var client = await tokens.RegisterCodeClientAsync("consent-prompt-none", consentType: "explicit");
        await tokens.RegisterUserAsync("hank", "hank-password-1");
        var browser = new BrowserSession(factory);
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "hank", "hank-password-1");
        Assert.NotNull(browser.Page!.GetElementById("accept"));

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "none" }));

        var parameters = BrowserSession.CallbackParameters(response);
        Assert.Equal("consent_required", parameters["error"]);
        Assert.Equal("xyz", parameters["state"]);
    }

    [Fact]
    public async Task A_consent_post_without_the_anti_forgery_token_grants_nothing_and_asks_again()
    {
        var client = await tokens.RegisterCodeClientAsync("consent-csrf", consentType: "explicit");
        await tokens.RegisterUserAsync("iris", "iris-password-1");
        var browser = new BrowserSession(factory);
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "iris", "iris-password-1");
        var fields = browser.Page!.QuerySelectorAll("form input[type=hidden]")
            .Where(input => input.GetAttribute("name") != "__RequestVerificationToken")
            .Select(input => KeyValuePair.Create(input.GetAttribute("name")!, input.GetAttribute("value") ?? string.Empty))
            .Append(KeyValuePair.Create("consent", "accept"));

        using var forged = await browser.Http.PostAsync("/connect/authorize", new FormUrlEncodedContent(fields));

        // Back to the same authorization request on this server (not to the client, so no code), without the answer.
        Assert.Equal(HttpStatusCode.Redirect, forged.StatusCode);
        var again = forged.Headers.Location!.OriginalString;
        Assert.StartsWith("/connect/authorize?", again, StringComparison.Ordinal);
        Assert.DoesNotContain("consent=", again, StringComparison.Ordinal);
        Assert.Contains("client_id=consent-csrf", again, StringComparison.Ordinal);
        var shown = await browser.GoAsync(again);
        Assert.NotNull(browser.Page!.GetElementById("accept"));
        Assert.Null(shown.Headers.Location);
    }
}
