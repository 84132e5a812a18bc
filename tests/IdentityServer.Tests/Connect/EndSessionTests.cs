using System.Net;
using System.Text.Json;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Connect;

public sealed class EndSessionTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private static string EndSessionUrl(string? postLogoutRedirectUri, string? idTokenHint, string? state = "s") =>
        QueryHelpers.AddQueryString("/connect/endsession", new Dictionary<string, string?>
        {
            ["post_logout_redirect_uri"] = postLogoutRedirectUri,
            ["id_token_hint"] = idTokenHint,
            ["state"] = state,
        }.Where(p => p.Value is not null));

    [Fact]
    public async Task Ending_the_session_signs_the_user_out_and_returns_to_the_client_with_its_state()
    {
        var (client, browser, body) = await SignedInAsync("endsession-ok", "ella");

        var response = await browser.GoAsync(EndSessionUrl(client.PostLogoutRedirectUri, body.Token("id_token")));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.Equal(client.PostLogoutRedirectUri, location.GetLeftPart(UriPartial.Path));
        Assert.Equal("s", BrowserSession.CallbackParameters(response)["state"]);

        var next = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("login"));
    }

    [Fact]
    public async Task A_copy_of_the_session_cookie_no_longer_signs_anyone_in_once_the_user_has_signed_out()
    {
        // The session ends on the server, not only in the browser that signed out (as in Keycloak).
        var (client, browser, body) = await SignedInAsync("endsession-copied-cookie", "edda");
        var copiedCookies = browser.CookieHeader;
        Assert.Equal("code", await SilentAuthorizeOutcomeAsync(client, copiedCookies));

        await browser.GoAsync(EndSessionUrl(client.PostLogoutRedirectUri, body.Token("id_token")));

        Assert.Equal("login_required", await SilentAuthorizeOutcomeAsync(client, copiedCookies));
    }

    [Fact]
    public async Task Signing_in_again_as_the_same_user_keeps_one_session_so_signing_out_ends_every_cookie_of_it()
    {
        var (client, browser, _) = await SignedInAsync("endsession-relogin", "elin");
        var firstCookie = browser.CookieHeader;
        await SignInAgainAsync(browser, client, "elin", "elin-password-1");

        await browser.GoAsync(EndSessionUrl(postLogoutRedirectUri: null, idTokenHint: null));
        await browser.ClickAsync("logout");

        Assert.Equal("login_required", await SilentAuthorizeOutcomeAsync(client, firstCookie));
    }

    [Fact]
    public async Task Another_user_signing_in_on_the_same_browser_ends_the_previous_users_session()
    {
        var client = await tokens.RegisterCodeClientAsync("endsession-switch-user");
        await tokens.RegisterUserAsync("elke", "elke-password-1");
        await tokens.RegisterUserAsync("eric", "eric-password-1");
        var browser = new BrowserSession(factory);
        await tokens.LogInAndRedeemAsync(browser, client, "elke", "elke-password-1");
        var elkesCookie = browser.CookieHeader;

        await SignInAgainAsync(browser, client, "eric", "eric-password-1");

        Assert.Equal("login_required", await SilentAuthorizeOutcomeAsync(client, elkesCookie));
        Assert.Equal("code", await SilentAuthorizeOutcomeAsync(client, browser.CookieHeader));
    }

    [Fact]
    public async Task Ending_the_session_with_a_previous_users_id_token_asks_the_signed_in_user_before_signing_them_out()
    {
        // RP-Initiated Logout 1.0, 2: a hint that does not name the signed-in user does not vouch for the request.
        var client = await tokens.RegisterCodeClientAsync("endsession-stale-hint");
        await tokens.RegisterUserAsync("edith", "edith-password-1");
        await tokens.RegisterUserAsync("emilian", "emilian-password-1");
        var browser = new BrowserSession(factory);
        var ediths = await tokens.LogInAndRedeemAsync(browser, client, "edith", "edith-password-1");
        await SignInAgainAsync(browser, client, "emilian", "emilian-password-1");

        await browser.GoAsync(EndSessionUrl(client.PostLogoutRedirectUri, ediths.Token("id_token")));
        Assert.Equal("/account/signout", browser.PageUri!.AbsolutePath);
        Assert.Equal("code", await SilentAuthorizeOutcomeAsync(client, browser.CookieHeader));
        var confirmed = await browser.ClickAsync("logout");

        Assert.Equal(HttpStatusCode.Redirect, confirmed.StatusCode);
        Assert.Equal(client.PostLogoutRedirectUri, confirmed.Headers.Location!.GetLeftPart(UriPartial.Path));
        Assert.Equal("login_required", await SilentAuthorizeOutcomeAsync(client, browser.CookieHeader));
    }

    [Fact]
    public async Task An_empty_id_token_hint_counts_as_none_so_the_user_is_asked_and_then_signed_out()
    {
        var (client, browser, _) = await SignedInAsync("endsession-empty-hint", "elisabeth");

        await browser.GoAsync(EndSessionUrl(client.PostLogoutRedirectUri, idTokenHint: ""));
        Assert.NotNull(browser.Page!.GetElementById("logout"));
        var response = await browser.ClickAsync("logout");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("s", BrowserSession.CallbackParameters(response)["state"]);
        Assert.Equal("login_required", await SilentAuthorizeOutcomeAsync(client, browser.CookieHeader));
    }

    private static async Task SignInAgainAsync(BrowserSession browser, TestClient client, string username, string password)
    {
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "login" }));
        var signedIn = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = username, ["password"] = password });
        await OAuthFlows.CodeFromAsync(signedIn, client);
    }

    [Fact]
    public async Task A_signed_out_session_is_remembered_while_a_copy_of_its_cookie_could_live_and_forgotten_after()
    {
        var (client, browser, body) = await SignedInAsync("endsession-pruned", "enno");
        await browser.GoAsync(EndSessionUrl(client.PostLogoutRedirectUri, body.Token("id_token")));
        var pruner = factory.Services.GetRequiredService<TokenPruner>();

        // The sign-in cookie lives 8 hours from its last renewal, and it is never renewed once its session has ended.
        factory.Time.Advance(TimeSpan.FromHours(7));
        await pruner.PruneOnceAsync(CancellationToken.None);
        Assert.True(await CountEndedSessionsAsync() >= 1);

        factory.Time.Advance(TimeSpan.FromHours(2));
        await pruner.PruneOnceAsync(CancellationToken.None);
        Assert.Equal(0, await CountEndedSessionsAsync());
    }

    private async Task<int> CountEndedSessionsAsync()
    {
        await using var scope = factory.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ApplicationDbContext>().EndedSessions.CountAsync();
    }

    [Fact]
    public async Task An_image_on_another_site_pointing_at_end_session_does_not_sign_the_user_out()
    {
        var (client, browser, _) = await SignedInAsync("endsession-image", "erin");

        Assert.Equal(HttpStatusCode.BadRequest, await EndSessionFetchedAsync(browser, client, "no-cors", "image"));
        var pkce = Pkce.Create();
        var silent = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, extra: new Dictionary<string, string> { ["prompt"] = "none" }));
        Assert.Equal(HttpStatusCode.OK, (await tokens.RedeemCodeAsync(client, await OAuthFlows.CodeFromAsync(silent, client), pkce)).Status);
    }

    [Fact]
    public async Task Without_a_hint_the_user_is_asked_and_stays_signed_in_until_confirming()
    {
        // RP-Initiated Logout 1.0, 2: the server MUST ask when no id_token_hint names the user (Keycloak and Duende do);
        // a link on any site could otherwise sign its visitors out.
        var (client, browser, _) = await SignedInAsync("endsession-navigate", "ezra");

        var asked = await browser.GoAsync(EndSessionUrl(client.PostLogoutRedirectUri, idTokenHint: null, state: "ezra-state"));
        Assert.Equal(HttpStatusCode.OK, asked.StatusCode);
        Assert.Equal("/account/signout", browser.PageUri!.AbsolutePath);
        Assert.NotNull(browser.Page!.GetElementById("logout"));
        Assert.StartsWith("An app asked to sign you out.", browser.Page.GetElementById("signout-question")!.TextContent, StringComparison.Ordinal);
        Assert.Equal("code", await SilentAuthorizeOutcomeAsync(client, browser.CookieHeader));

        var confirmed = await browser.ClickAsync("logout");

        Assert.Equal(HttpStatusCode.Redirect, confirmed.StatusCode);
        Assert.Equal(client.PostLogoutRedirectUri, confirmed.Headers.Location!.GetLeftPart(UriPartial.Path));
        Assert.Equal("ezra-state", BrowserSession.CallbackParameters(confirmed)["state"]);
        Assert.Equal("login_required", await SilentAuthorizeOutcomeAsync(client, browser.CookieHeader));
    }

    [Fact]
    public async Task Signing_out_from_the_servers_home_page_needs_no_second_question()
    {
        var (client, browser, _) = await SignedInAsync("endsession-home", "emma");

        await browser.GoAsync("/");
        await browser.ClickAsync("logout");

        Assert.Equal("/account/signed-out", browser.PageUri!.AbsolutePath);
        Assert.Equal("login_required", await SilentAuthorizeOutcomeAsync(client, browser.CookieHeader));
    }

    [Fact]
    public async Task A_get_that_says_it_carries_a_form_still_asks_with_the_apps_request_and_state()
    {
        var (client, browser, _) = await SignedInAsync("endsession-form-typed", "fern");

        using var asked = await browser.Http.SendAsync(ProtocolHelpers.FormTypedGet(
            EndSessionUrl(client.PostLogoutRedirectUri, idTokenHint: null, state: "fern-state")));

        // To the question, with the request read from the query (as OpenIddict reads a GET), not from the empty body.
        Assert.Equal(HttpStatusCode.Redirect, asked.StatusCode);
        var question = asked.Headers.Location!.OriginalString;
        Assert.StartsWith("/account/signout", question, StringComparison.Ordinal);
        Assert.Contains("state=fern-state", question, StringComparison.Ordinal);
        Assert.Contains("post_logout_redirect_uri=", question, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_forged_confirmation_without_the_forms_anti_forgery_token_asks_again()
    {
        var (client, browser, _) = await SignedInAsync("endsession-forged", "esra");

        using var forged = await browser.Http.PostAsync("/connect/endsession", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["post_logout_redirect_uri"] = client.PostLogoutRedirectUri,
            ["confirm"] = "signout",
        }));

        Assert.Equal(HttpStatusCode.Redirect, forged.StatusCode);
        Assert.StartsWith("/account/signout?", forged.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Equal("code", await SilentAuthorizeOutcomeAsync(client, browser.CookieHeader));
    }

    [Fact]
    public async Task The_sign_out_page_opened_with_nobody_signed_in_says_so_instead_of_asking()
    {
        var browser = new BrowserSession(factory);

        await browser.GoAsync("/account/signout");

        Assert.Equal("You are signed out", browser.Page!.QuerySelector("h1")!.TextContent);
        Assert.Equal("Nobody is signed in to IdentityServer in this browser.", browser.Page.GetElementById("signout-question")!.TextContent);
        Assert.Equal("Continue", browser.Page.GetElementById("logout")!.TextContent);
    }

    [Fact]
    public async Task The_servers_own_sign_out_form_come_back_expired_asks_without_blaming_an_app()
    {
        var (_, browser, _) = await SignedInAsync("endsession-expired-home", "elio");

        using var expired = await browser.Http.PostAsync("/connect/endsession", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["confirm"] = "signout",
        }));
        await browser.GoAsync(expired.Headers.Location!.OriginalString);

        Assert.Equal("/account/signout", browser.PageUri!.AbsolutePath);
        Assert.Equal("You stay signed in unless you confirm.", browser.Page!.GetElementById("signout-question")!.TextContent);
    }

    [Fact]
    public async Task Nobody_signed_in_is_sent_back_to_the_client_without_a_question()
    {
        var client = await tokens.RegisterCodeClientAsync("endsession-nobody");
        var browser = new BrowserSession(factory);

        var response = await browser.GoAsync(EndSessionUrl(client.PostLogoutRedirectUri, idTokenHint: null));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("s", BrowserSession.CallbackParameters(response)["state"]);
    }

    /// <summary>A client, a user, and a browser in which the user has signed in to it; and the token response.</summary>
    private async Task<(TestClient Client, BrowserSession Browser, JsonElement Tokens)> SignedInAsync(string clientId, string username)
    {
        var client = await tokens.RegisterCodeClientAsync(clientId);
        await tokens.RegisterUserAsync(username, username + "-password-1");
        var browser = new BrowserSession(factory);
        return (client, browser, await tokens.LogInAndRedeemAsync(browser, client, username, username + "-password-1"));
    }

    /// <summary>The end session request a browser makes for a page (navigate, document) or an image (no-cors, image).</summary>
    private static async Task<HttpStatusCode> EndSessionFetchedAsync(BrowserSession browser, TestClient client, string mode, string destination)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, EndSessionUrl(client.PostLogoutRedirectUri, idTokenHint: null));
        request.Headers.Add("Sec-Fetch-Mode", mode);
        request.Headers.Add("Sec-Fetch-Dest", destination);
        request.Headers.Add("Sec-Fetch-Site", "cross-site");
        using var response = await browser.Http.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>What a prompt=none authorization request sent with these cookies brings back to the client: "code" or the error.</summary>
    private async Task<string> SilentAuthorizeOutcomeAsync(TestClient client, string cookieHeader)
    {
        // Another browser, holding only the copied cookies.
        var http = factory.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = false });
        using var request = new HttpRequestMessage(HttpMethod.Get,
            OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "none" }));
        request.Headers.Add("Cookie", cookieHeader);
        using var response = await http.SendAsync(request);
        var parameters = BrowserSession.CallbackParameters(response);
        return parameters.TryGetValue("code", out _) ? "code" : parameters["error"];
    }

    [Fact]
    public async Task After_ending_the_session_prompt_none_gets_login_required()
    {
        var (client, browser, body) = await SignedInAsync("endsession-silent", "emil");
        await browser.GoAsync(EndSessionUrl(client.PostLogoutRedirectUri, body.Token("id_token")));

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "none" }));

        Assert.Equal("login_required", BrowserSession.CallbackParameters(response)["error"]);
    }

    [Fact]
    public async Task An_unregistered_post_logout_redirect_uri_is_never_followed()
    {
        var (client, browser, body) = await SignedInAsync("endsession-evil", "eddy");

        var response = await browser.GoAsync(EndSessionUrl("https://evil.example/signed-out", body.Token("id_token")));

        Assert.True((int)response.StatusCode < 500, $"got {(int)response.StatusCode}");
        Assert.False(response.Headers.Location?.Host == "evil.example", $"redirected to {response.Headers.Location}");
        Assert.Equal("localhost", response.RequestMessage!.RequestUri!.Host);
    }

    [Fact]
    public async Task Another_clients_post_logout_redirect_uri_is_refused_with_this_clients_id_token()
    {
        var client = await tokens.RegisterCodeClientAsync("endsession-mine");
        var other = await tokens.RegisterCodeClientAsync("endsession-other");
        await tokens.RegisterUserAsync("elsa", "elsa-password-1");
        var browser = new BrowserSession(factory);
        var body = await tokens.LogInAndRedeemAsync(browser, client, "elsa", "elsa-password-1");

        var response = await browser.GoAsync(EndSessionUrl(other.PostLogoutRedirectUri, body.Token("id_token")));

        Assert.True((int)response.StatusCode < 500, $"got {(int)response.StatusCode}");
        Assert.False(response.Headers.Location?.ToString().StartsWith(other.PostLogoutRedirectUri, StringComparison.Ordinal) == true,
            $"redirected to {response.Headers.Location}");
    }

    [Fact]
    public async Task Without_a_post_logout_redirect_uri_the_user_lands_on_the_signed_out_page()
    {
        var (client, browser, _) = await SignedInAsync("endsession-plain", "enzo");

        await browser.GoAsync("/connect/endsession");
        var response = await browser.ClickAsync("logout");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/account/signed-out", browser.PageUri!.AbsolutePath);
        var next = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("login"));
    }
}
