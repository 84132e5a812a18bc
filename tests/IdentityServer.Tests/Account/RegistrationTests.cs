using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Account;

public sealed class RegistrationTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private static Dictionary<string, string> Form(string username, string password, string? confirm = null) => new()
    {
        ["username"] = username,
        ["email"] = $"{username}@example.test",
        ["password"] = password,
        ["confirm-password"] = confirm ?? password,
    };

    private static string ErrorsOn(BrowserSession browser) =>
        string.Join(" | ", browser.Page!.QuerySelectorAll(".field-error, .form-error").Select(e => e.TextContent.Trim()).Where(t => t.Length > 0));

    [Fact]
    public async Task The_login_page_links_to_registration_and_the_link_carries_the_authorization_request_on()
    {
        var client = await tokens.RegisterCodeClientAsync("reg-link");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce));

        var link = browser.Page!.QuerySelector("a#register-link")?.GetAttribute("href");
        Assert.False(string.IsNullOrEmpty(link));
        await browser.GoAsync(new Uri(browser.PageUri!, link).PathAndQuery);
        Assert.NotNull(browser.Page!.GetElementById("register"));
        var response = await browser.ClickAsync("register", Form("linked-user", "linked-password-1"));

        var code = await OAuthFlows.CodeFromAsync(response, client);
        var (status, body) = await tokens.RedeemCodeAsync(client, code, pkce);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(string.IsNullOrEmpty(body.OptionalToken("refresh_token")));
    }

    [Fact]
    public async Task Prompt_create_opens_registration_and_the_new_user_gets_access_and_refresh_tokens()
    {
        var client = await tokens.RegisterCodeClientAsync("reg-prompt-create");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();

        var page = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, extra: new Dictionary<string, string> { ["prompt"] = "create" }));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        foreach (var id in new[] { "username", "email", "password", "confirm-password", "register" })
        {
            Assert.NotNull(browser.Page!.GetElementById(id));
        }

        Assert.NotNull(browser.Page!.QuerySelector("input[name=__RequestVerificationToken]"));
        var response = await browser.ClickAsync("register", Form("newcomer", "newcomer-password-1"));

        var code = await OAuthFlows.CodeFromAsync(response, client);
        var (status, body) = await tokens.RedeemCodeAsync(client, code, pkce);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var access = await tokens.ValidateAccessTokenAsync(body.Token("access_token"));
        Assert.Equal("newcomer", access.GetClaim("name").Value);
        Assert.False(string.IsNullOrEmpty(body.OptionalToken("refresh_token")));
        var refreshed = await tokens.RefreshAsync(client, body.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.OK, refreshed.Status);
    }

    [Theory]
    [InlineData("create login")]
    [InlineData("create select_account")]
    public async Task Registering_is_the_fresh_sign_in_that_prompt_login_asks_for(string prompt)
    {
        // OpenID Connect Core 3.1.2.1: login asks the user to authenticate again; having just registered, they have.
        var client = await tokens.RegisterCodeClientAsync("reg-" + prompt.Replace(' ', '-'));
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var username = "fresh-" + prompt.Split(' ')[1].Replace('_', '-');

        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, extra: new Dictionary<string, string> { ["prompt"] = prompt, ["max_age"] = "0" }));
        var response = await browser.ClickAsync("register", Form(username, username + "-password-1"));

        var code = await OAuthFlows.CodeFromAsync(response, client);
        var (status, body) = await tokens.RedeemCodeAsync(client, code, pkce);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal(username, (await tokens.ValidateAccessTokenAsync(body.Token("access_token"))).GetClaim("name").Value);
    }

    [Fact]
    public async Task After_registering_the_user_can_sign_in_again_with_the_new_password()
    {
        var client = await tokens.RegisterCodeClientAsync("reg-then-login");
        var registering = new BrowserSession(factory);
        await registering.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "create" }));
        await OAuthFlows.CodeFromAsync(await registering.ClickAsync("register", Form("returning", "returning-password-1")), client);

        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "returning", "returning-password-1");

        Assert.False(string.IsNullOrEmpty(body.OptionalToken("access_token")));
    }

    [Fact]
    public async Task The_login_and_registration_forms_post_to_their_page_without_the_skip_links_fragment()
    {
        var client = await tokens.RegisterCodeClientAsync("reg-form-address");
        var browser = new BrowserSession(factory);
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()) + "#main");
        var login = browser.PageUri!.PathAndQuery;
        Assert.StartsWith("/account/login?", login, StringComparison.Ordinal);
        Assert.Equal(login, browser.Page!.QuerySelector("form")!.GetAttribute("action"));
        Assert.True(browser.Page.GetElementById("username")!.HasAttribute("autofocus"));

        await browser.GoAsync(browser.Page.GetElementById("register-link")!.GetAttribute("href")!);
        Assert.Equal(browser.PageUri!.PathAndQuery, browser.Page!.QuerySelector("form")!.GetAttribute("action"));
        Assert.True(browser.Page.GetElementById("username")!.HasAttribute("autofocus"));
        Assert.Null(browser.Page.GetElementById("register-errors"));
    }

    [Fact]
    public async Task Mismatched_passwords_keep_the_user_on_the_registration_page_with_an_error()
    {
        var client = await tokens.RegisterCodeClientAsync("reg-mismatch");
        var browser = new BrowserSession(factory);
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "create" }));

        var response = await browser.ClickAsync("register", Form("mismatch", "mismatch-password-1", "something-else-1"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("register"));
        Assert.Contains("do not match", ErrorsOn(browser), StringComparison.Ordinal);
        // The field to mend has the focus (its description reads the error out) and the page announces that there are errors.
        Assert.True(browser.Page.GetElementById("confirm-password")!.HasAttribute("autofocus"));
        Assert.False(browser.Page.GetElementById("username")!.HasAttribute("autofocus"));
        Assert.Equal("alert", browser.Page.GetElementById("register-errors")!.GetAttribute("role"));
        var (_, users) = await tokens.AdminAsync(HttpMethod.Get, "/admin/users?search=mismatch");
        Assert.Equal(0, users.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task A_taken_username_keeps_the_user_on_the_registration_page_with_an_error()
    {
        await tokens.RegisterUserAsync("taken", "taken-password-1");
        var client = await tokens.RegisterCodeClientAsync("reg-duplicate");
        var browser = new BrowserSession(factory);
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "create" }));

        var response = await browser.ClickAsync("register", Form("taken", "another-password-1"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("register"));
        Assert.Contains("taken", ErrorsOn(browser), StringComparison.OrdinalIgnoreCase);
        // The existing account keeps its own password.
        await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "taken", "taken-password-1");
    }

    [Fact]
    public async Task A_username_that_is_another_accounts_email_keeps_the_user_on_the_registration_page_and_the_owner_still_signs_in_with_it()
    {
        await tokens.RegisterUserAsync("olga", "olga-password-1", email: "olga@example.test");
        var client = await tokens.RegisterCodeClientAsync("reg-email-as-username");
        var browser = new BrowserSession(factory);
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "create" }));

        var form = Form("olga@example.test", "mallory-password-1");
        form["email"] = "mallory@example.test";
        var response = await browser.ClickAsync("register", form);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("register"));
        Assert.Contains("taken", ErrorsOn(browser), StringComparison.OrdinalIgnoreCase);
        await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "olga@example.test", "olga-password-1");
    }

    [Fact]
    public async Task A_password_over_72_bytes_is_refused_with_an_error()
    {
        var client = await tokens.RegisterCodeClientAsync("reg-long-password");
        var browser = new BrowserSession(factory);
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "create" }));

        // 37 two-byte characters: 37 characters, 74 bytes, more than BCrypt reads.
        var response = await browser.ClickAsync("register", Form("longpass", new string('é', 37)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("register"));
        Assert.Contains("72 bytes", ErrorsOn(browser), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_short_password_is_refused_with_an_error()
    {
        var client = await tokens.RegisterCodeClientAsync("reg-short-password");
        var browser = new BrowserSession(factory);
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "create" }));

        var response = await browser.ClickAsync("register", Form("shortpass", "short"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("register"));
        Assert.False(string.IsNullOrEmpty(ErrorsOn(browser)));
    }

    [Fact]
    public async Task A_short_password_is_reported_at_once_beside_the_other_fields_errors()
    {
        var client = await tokens.RegisterCodeClientAsync("reg-short-and-mismatch");
        var browser = new BrowserSession(factory);
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "create" }));

        await browser.ClickAsync("register", Form("shortmix", "short", "other"));

        Assert.Contains("do not match", browser.Page!.GetElementById("confirm-password-error")!.TextContent, StringComparison.Ordinal);
        Assert.Contains("at least 8", browser.Page.GetElementById("password-error")!.TextContent, StringComparison.Ordinal);
        Assert.True(browser.Page.GetElementById("password")!.HasAttribute("autofocus"));
    }

    [Fact]
    public async Task Registration_without_an_authorization_request_signs_the_user_in_and_stays_on_this_server()
    {
        var browser = new BrowserSession(factory);
        await browser.GoAsync("/account/register?ReturnUrl=https%3A%2F%2Fevil.example%2F");

        var response = await browser.ClickAsync("register", Form("standalone", "standalone-password-1"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("localhost", browser.PageUri!.Host);
        Assert.Equal("/", browser.PageUri.AbsolutePath);
        Assert.Contains("Signed in as standalone", browser.Page!.Body!.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_return_url_written_with_characters_beyond_ascii_is_followed_percent_encoded()
    {
        var browser = new BrowserSession(factory);
        await browser.GoAsync("/account/register?ReturnUrl=" + Uri.EscapeDataString("/?from=café"));

        var response = await browser.ClickAsync("register", Form("cafe-goer", "cafe-goer-password-1"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/", browser.PageUri!.AbsolutePath);
        Assert.Equal("?from=caf%C3%A9", browser.PageUri.Query);
        Assert.Contains("Signed in as cafe-goer", browser.Page!.Body!.TextContent, StringComparison.Ordinal);
    }
}
