using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class AuthorizationCodeFlowTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task A_user_who_logs_in_gets_a_code_then_access_id_and_refresh_tokens()
    {
        var client = await tokens.RegisterCodeClientAsync("web-app");
        var userId = await tokens.RegisterUserAsync("alice", "alice-password-1");
        var browser = new BrowserSession(factory);

        var body = await tokens.LogInAndRedeemAsync(browser, client, "alice", "alice-password-1");

        var access = await tokens.ValidateAccessTokenAsync(body.GetProperty("access_token").GetString()!);
        Assert.Equal(userId, access.Subject);
        Assert.Equal("web-app", access.GetClaim("client_id").Value);
        Assert.False(string.IsNullOrEmpty(body.GetProperty("refresh_token").GetString()));
        var id = await tokens.ValidateAsync(body.GetProperty("id_token").GetString()!, audience: "web-app", tokenType: null);
        Assert.True(id.IsValid, id.Exception?.ToString());
        Assert.Equal("n-0S6", id.Claims["nonce"]);
        Assert.True(id.Claims.ContainsKey("at_hash"));
        Assert.True(id.Claims.ContainsKey("auth_time"));
    }

    [Theory]
    [InlineData("openid profile offline_access")]
    [InlineData("openid profile email offline_access admin")]
    public async Task An_app_that_sends_the_scope_again_with_its_code_gets_the_tokens_of_what_the_user_granted(string scopeAtRedemption)
    {
        // MSAL and OmniAuth repeat scope at the token endpoint; RFC 6749 4.1.3 has no such parameter, so it is ignored
        // (as Keycloak and Duende do), and asking for more there gains nothing.
        var client = await tokens.RegisterCodeClientAsync("web-app-scope-again-" + scopeAtRedemption.Length);
        var username = "scope-again-" + scopeAtRedemption.Length;
        await tokens.RegisterUserAsync(username, "scope-again-password");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var response = await browser.SignInAsync(
            OAuthFlows.AuthorizeUrl(client, pkce, "openid profile offline_access"), username, "scope-again-password");
        var code = await OAuthFlows.CodeFromAsync(response, client);

        var (status, body) = await tokens.RedeemCodeAsync(client, code, pkce, scopeAtRedemption);

        Assert.True(status == HttpStatusCode.OK, $"{status} {body}");
        string[] granted = ["offline_access", "openid", "profile"];
        Assert.Equal(granted, body.GetProperty("scope").GetString()!.Split(' ').Order());
        var access = await tokens.ValidateAccessTokenAsync(body.GetProperty("access_token").GetString()!);
        Assert.Equal(granted, access.GetClaim("scope").Value.Split(' ').Order());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("refresh_token").GetString()));
    }

    [Fact]
    public async Task An_app_that_sends_auth0s_audience_parameter_signs_its_user_in_as_if_it_had_not()
    {
        // express-openid-connect's samples send audience at authorize and at the token endpoint; RFC 6749 3.1 says a
        // server ignores parameters it does not recognize, as Keycloak and Duende do. The scopes choose the audiences.
        await tokens.RegisterScopeAsync("orders-audience", "orders-api-audience");
        var client = await tokens.RegisterCodeClientAsync("web-app-audience", scopes: "openid profile orders-audience");
        await tokens.RegisterUserAsync("audience-user", "audience-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var response = await browser.SignInAsync(
            OAuthFlows.AuthorizeUrl(client, pkce, "openid orders-audience", extra: new Dictionary<string, string> { ["audience"] = "orders-api" }),
            "audience-user", "audience-password-1");
        var code = await OAuthFlows.CodeFromAsync(response, client);

        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = client.RedirectUri,
            ["code_verifier"] = pkce.Verifier,
            ["audience"] = "orders-api",
        }, client.ClientId, client.Secret);

        Assert.True(status == HttpStatusCode.OK, $"{status} {body}");
        var access = await tokens.ValidateAccessTokenAsync(body.GetProperty("access_token").GetString()!, audience: "orders-api-audience");
        Assert.Equal(["orders-api-audience"], access.Audiences);
    }

    [Fact]
    public async Task Wrong_credentials_keep_the_user_on_the_login_page_with_one_message()
    {
        var client = await tokens.RegisterCodeClientAsync("web-app-2");
        await tokens.RegisterUserAsync("bob", "bob-password-1");
        var browser = new BrowserSession(factory);

        var wrongPassword = await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "bob", "nope-nope-nope");
        var wrongPasswordMessage = browser.Page!.GetElementById("login-error")?.TextContent;
        var unknownUser = await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "nobody", "nope-nope-nope");
        var unknownUserMessage = browser.Page!.GetElementById("login-error")?.TextContent;

        Assert.Equal(HttpStatusCode.OK, wrongPassword.StatusCode);
        Assert.Equal(HttpStatusCode.OK, unknownUser.StatusCode);
        Assert.NotNull(browser.Page.GetElementById("username"));
        Assert.False(string.IsNullOrWhiteSpace(wrongPasswordMessage));
        Assert.Equal(wrongPasswordMessage, unknownUserMessage);
    }

    [Fact]
    public async Task The_login_page_starts_with_the_username_the_apps_login_hint_names()
    {
        var client = await tokens.RegisterCodeClientAsync("web-app-hint");
        var browser = new BrowserSession(factory);

        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["login_hint"] = "hannah@example.test" }));

        Assert.Equal("hannah@example.test", browser.Page!.GetElementById("username")!.GetAttribute("value"));
    }

    [Fact]
    public async Task A_signed_in_user_opening_the_login_page_is_told_who_is_signed_in_and_can_still_switch()
    {
        await tokens.RegisterUserAsync("sigrid", "sigrid-password-1");
        await tokens.RegisterUserAsync("sven", "sven-password-1");
        var browser = new BrowserSession(factory);
        await browser.GoAsync("/account/login");
        await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "sigrid", ["password"] = "sigrid-password-1" });

        await browser.GoAsync("/account/login");
        var notice = browser.Page!.GetElementById("signed-in-as")!.TextContent;
        await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "sven", ["password"] = "sven-password-1" });

        Assert.Contains("sigrid", notice, StringComparison.Ordinal);
        Assert.Contains("Signed in as sven", browser.Page!.Body!.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_login_form_left_open_in_a_second_tab_carries_on_to_the_app_once_the_first_tab_signed_in()
    {
        var client = await tokens.RegisterCodeClientAsync("web-app-tabs");
        await tokens.RegisterUserAsync("tabitha", "tabitha-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var authorize = OAuthFlows.AuthorizeUrl(client, pkce);
        await browser.GoAsync(authorize);
        var secondTab = browser.PageUri!;
        var staleForm = FilledLoginForm(browser, "tabitha", "tabitha-password-1");
        await browser.SignInAsync(authorize, "tabitha", "tabitha-password-1");   // the first tab signs in

        // The second tab's anti-forgery token was made for the anonymous visitor this browser no longer is.
        using var response = await browser.Http.PostAsync(secondTab, new FormUrlEncodedContent(staleForm));
        var atTheApp = await browser.GoAsync(response.Headers.Location!.OriginalString);

        Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.StartsWith("/connect/authorize?", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.True(BrowserSession.CallbackParameters(atTheApp).ContainsKey("code"), atTheApp.Headers.Location?.ToString());
    }

    [Fact]
    public async Task A_login_form_left_open_for_another_user_is_shown_again_rather_than_carrying_on_as_the_user_who_signed_in()
    {
        var client = await tokens.RegisterCodeClientAsync("web-app-two-users");
        await tokens.RegisterUserAsync("tobias", "tobias-password-1");
        await tokens.RegisterUserAsync("theresa", "theresa-password-1");
        var browser = new BrowserSession(factory);
        var authorize = OAuthFlows.AuthorizeUrl(client, Pkce.Create());
        await browser.GoAsync(authorize);
        var secondTab = browser.PageUri!;
        var staleForm = FilledLoginForm(browser, "theresa", "theresa-password-1");
        await browser.SignInAsync(authorize, "tobias", "tobias-password-1");   // the first tab signs in as someone else

        using var response = await browser.Http.PostAsync(secondTab, new FormUrlEncodedContent(staleForm));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/account/login?", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Contains("expired=true", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_login_form_whose_page_expired_is_shown_again_saying_so_and_then_signs_in()
    {
        var client = await tokens.RegisterCodeClientAsync("web-app-expired");
        await tokens.RegisterUserAsync("edwina", "edwina-password-1");
        var pkce = Pkce.Create();
        var opened = new BrowserSession(factory);
        await opened.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce));
        var expiredForm = FilledLoginForm(opened, "edwina", "edwina-password-1");
        var browser = new BrowserSession(factory);   // the same page, its anti-forgery cookie gone

        var shownAgain = await browser.GoAsync(opened.PageUri!.PathAndQuery);
        using var post = await browser.Http.PostAsync(opened.PageUri, new FormUrlEncodedContent(expiredForm));
        await browser.GoAsync(post.Headers.Location!.OriginalString);
        var notice = browser.Page!.GetElementById("form-expired")?.TextContent;
        var atTheApp = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "edwina", ["password"] = "edwina-password-1" });

        Assert.Equal(HttpStatusCode.OK, shownAgain.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
        Assert.StartsWith("/account/login?", post.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(notice));
        Assert.True(BrowserSession.CallbackParameters(atTheApp).ContainsKey("code"), atTheApp.Headers.Location?.ToString());
    }

    private static List<KeyValuePair<string, string>> FilledLoginForm(BrowserSession browser, string username, string password) =>
        browser.Page!.QuerySelectorAll("form input[type=hidden]")
            .Select(input => KeyValuePair.Create(input.GetAttribute("name")!, input.GetAttribute("value") ?? string.Empty))
            .Append(KeyValuePair.Create("Username", username)).Append(KeyValuePair.Create("Password", password))
            .ToList();
}
