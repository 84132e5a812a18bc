using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class PromptAndMaxAgeTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private static Dictionary<string, string> With(string name, string value) => new() { [name] = value };

    [Fact]
    public async Task Prompt_none_without_a_session_sends_login_required_to_the_client()
    {
        var client = await tokens.RegisterCodeClientAsync("prompt-none");
        var browser = new BrowserSession(factory);

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), state: "silent", extra: With("prompt", "none")));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith(client.RedirectUri, response.Headers.Location!.ToString(), StringComparison.Ordinal);
        var parameters = BrowserSession.CallbackParameters(response);
        Assert.Equal("login_required", parameters["error"]);
        Assert.Equal("silent", parameters["state"]);
    }

    [Fact]
    public async Task Prompt_none_with_a_session_gives_a_code_without_any_page()
    {
        var client = await tokens.RegisterCodeClientAsync("prompt-none-session");
        await tokens.RegisterUserAsync("paula", "paula-password-1");
        var browser = new BrowserSession(factory);
        await tokens.LogInAndRedeemAsync(browser, client, "paula", "paula-password-1");

        var pkce = Pkce.Create();
        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, extra: With("prompt", "none")));

        var code = await OAuthFlows.CodeFromAsync(response, client);
        Assert.Equal(HttpStatusCode.OK, (await tokens.RedeemCodeAsync(client, code, pkce)).Status);
    }

    [Fact]
    public async Task Prompt_login_with_a_session_shows_the_login_page_again()
    {
        var client = await tokens.RegisterCodeClientAsync("prompt-login");
        await tokens.RegisterUserAsync("quinn", "quinn-password-1");
        var browser = new BrowserSession(factory);
        await tokens.LogInAndRedeemAsync(browser, client, "quinn", "quinn-password-1");

        var pkce = Pkce.Create();
        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, extra: With("prompt", "login")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("login"));

        factory.Time.Advance(TimeSpan.FromSeconds(30));
        var afterLogin = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "quinn", ["password"] = "quinn-password-1" });
        var code = await OAuthFlows.CodeFromAsync(afterLogin, client);
        var (status, body) = await tokens.RedeemCodeAsync(client, code, pkce);
        Assert.Equal(HttpStatusCode.OK, status);
        var idToken = ProtocolHelpers.Read(body.Token("id_token"));
        Assert.Equal(factory.Time.GetUtcNow().ToUnixTimeSeconds(), long.Parse(idToken.GetClaim("auth_time").Value));
    }

    [Fact]
    public async Task Prompt_select_account_with_a_session_shows_the_login_page_and_another_account_can_sign_in()
    {
        var client = await tokens.RegisterCodeClientAsync("prompt-select-account");
        await tokens.RegisterUserAsync("selma", "selma-password-1");
        var otherId = await tokens.RegisterUserAsync("sven", "sven-password-1");
        var browser = new BrowserSession(factory);
        await tokens.LogInAndRedeemAsync(browser, client, "selma", "selma-password-1");

        var pkce = Pkce.Create();
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, extra: With("prompt", "select_account")));
        Assert.NotNull(browser.Page!.GetElementById("login"));
        var afterLogin = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "sven", ["password"] = "sven-password-1" });

        var (status, body) = await tokens.RedeemCodeAsync(client, await OAuthFlows.CodeFromAsync(afterLogin, client), pkce);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(otherId, ProtocolHelpers.Read(body.Token("id_token")).Subject);
    }

    [Fact]
    public async Task A_prompt_login_the_user_walks_away_from_leaves_them_signed_in()
    {
        // Anyone can send a browser to a prompt=login URL; showing the login page must not be a way to sign the user out.
        var client = await tokens.RegisterCodeClientAsync("prompt-login-abandoned");
        await tokens.RegisterUserAsync("quentin", "quentin-password-1");
        var browser = new BrowserSession(factory);
        await tokens.LogInAndRedeemAsync(browser, client, "quentin", "quentin-password-1");

        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: With("prompt", "login")));
        Assert.NotNull(browser.Page!.GetElementById("login"));

        var pkce = Pkce.Create();
        var silent = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, extra: With("prompt", "none")));
        var code = await OAuthFlows.CodeFromAsync(silent, client);
        Assert.Equal(HttpStatusCode.OK, (await tokens.RedeemCodeAsync(client, code, pkce)).Status);
    }

    [Fact]
    public async Task An_id_token_hint_for_another_user_than_the_signed_in_one_gets_login_required_with_prompt_none_and_the_login_page_without()
    {
        var client = await tokens.RegisterCodeClientAsync("hint-other-user");
        await tokens.RegisterUserAsync("hanna", "hanna-password-1");
        await tokens.RegisterUserAsync("hugo", "hugo-password-1");
        var hannasIdToken = (await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "hanna", "hanna-password-1")).Token("id_token");
        var hugos = new BrowserSession(factory);
        var hugosIdToken = (await tokens.LogInAndRedeemAsync(hugos, client, "hugo", "hugo-password-1")).Token("id_token");

        var silent = await hugos.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "none", ["id_token_hint"] = hannasIdToken }));
        Assert.Equal(HttpStatusCode.Redirect, silent.StatusCode);
        Assert.Equal("login_required", BrowserSession.CallbackParameters(silent)["error"]);

        var interactive = await hugos.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: With("id_token_hint", hannasIdToken)));
        Assert.Equal(HttpStatusCode.OK, interactive.StatusCode);
        Assert.NotNull(hugos.Page!.GetElementById("login"));

        // The hint of the user who is signed in changes nothing.
        var pkce = Pkce.Create();
        var own = await hugos.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, extra: new Dictionary<string, string> { ["prompt"] = "none", ["id_token_hint"] = hugosIdToken }));
        var code = await OAuthFlows.CodeFromAsync(own, client);
        Assert.Equal(HttpStatusCode.OK, (await tokens.RedeemCodeAsync(client, code, pkce)).Status);
    }

    [Fact]
    public async Task Signing_in_as_someone_else_than_the_id_token_hint_names_sends_login_required_to_the_client_not_the_login_page_again()
    {
        var client = await tokens.RegisterCodeClientAsync("hint-then-other-login");
        await tokens.RegisterUserAsync("hedda", "hedda-password-1");
        await tokens.RegisterUserAsync("holger", "holger-password-1");
        var heddasIdToken = (await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "hedda", "hedda-password-1")).Token("id_token");

        // A fresh browser, and a signed-in one: either way the login page is shown once.
        var fresh = new BrowserSession(factory);
        await fresh.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: With("id_token_hint", heddasIdToken)));
        var wrongUser = await fresh.ClickAsync("login", new Dictionary<string, string> { ["username"] = "holger", ["password"] = "holger-password-1" });
        var holgers = new BrowserSession(factory);
        await tokens.LogInAndRedeemAsync(holgers, client, "holger", "holger-password-1");
        await holgers.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: With("id_token_hint", heddasIdToken)));
        var stillWrongUser = await holgers.ClickAsync("login", new Dictionary<string, string> { ["username"] = "holger", ["password"] = "holger-password-1" });

        Assert.Equal("login_required", BrowserSession.CallbackParameters(wrongUser)["error"]);
        Assert.Equal("login_required", BrowserSession.CallbackParameters(stillWrongUser)["error"]);

        // The hinted user signing in gets the code.
        var pkce = Pkce.Create();
        var heddas = new BrowserSession(factory);
        await heddas.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, extra: With("id_token_hint", heddasIdToken)));
        var rightUser = await heddas.ClickAsync("login", new Dictionary<string, string> { ["username"] = "hedda", ["password"] = "hedda-password-1" });
        var code = await OAuthFlows.CodeFromAsync(rightUser, client);
        Assert.Equal(HttpStatusCode.OK, (await tokens.RedeemCodeAsync(client, code, pkce)).Status);
    }

    [Fact]
    public async Task Max_age_zero_forces_a_new_login_and_then_carries_on_to_the_client()
    {
        var client = await tokens.RegisterCodeClientAsync("max-age-zero");
        await tokens.RegisterUserAsync("rita", "rita-password-1");
        var browser = new BrowserSession(factory);
        await tokens.LogInAndRedeemAsync(browser, client, "rita", "rita-password-1");

        var pkce = Pkce.Create();
        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce, extra: With("max_age", "0")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("login"));

        factory.Time.Advance(TimeSpan.FromMilliseconds(1500));
        var afterLogin = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "rita", ["password"] = "rita-password-1" });
        var code = await OAuthFlows.CodeFromAsync(afterLogin, client);
        Assert.Equal(HttpStatusCode.OK, (await tokens.RedeemCodeAsync(client, code, pkce)).Status);
    }

    [Fact]
    public async Task A_session_older_than_max_age_must_log_in_again_and_a_younger_one_need_not()
    {
        var client = await tokens.RegisterCodeClientAsync("max-age-small");
        await tokens.RegisterUserAsync("sam", "sam-password-1");
        var browser = new BrowserSession(factory);
        await tokens.LogInAndRedeemAsync(browser, client, "sam", "sam-password-1");

        factory.Time.Advance(TimeSpan.FromSeconds(30));
        var young = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: With("max_age", "120")));
        await OAuthFlows.CodeFromAsync(young, client);

        factory.Time.Advance(TimeSpan.FromMinutes(3));
        var old = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: With("max_age", "120")));
        Assert.Equal(HttpStatusCode.OK, old.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("login"));

        var afterLogin = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "sam", ["password"] = "sam-password-1" });
        Assert.False(string.IsNullOrEmpty(await OAuthFlows.CodeFromAsync(afterLogin, client)));
    }

    [Fact]
    public async Task A_max_age_that_is_not_a_number_never_gives_a_server_error()
    {
        var client = await tokens.RegisterCodeClientAsync("max-age-garbage");
        var browser = new BrowserSession(factory);

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: With("max_age", "-5")));

        Assert.True((int)response.StatusCode < 500, $"got {(int)response.StatusCode}");
    }

    [Fact]
    public async Task The_id_token_carries_nonce_at_hash_and_auth_time_from_the_login()
    {
        var client = await tokens.RegisterCodeClientAsync("id-token-claims");
        var userId = await tokens.RegisterUserAsync("tina", "tina-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var loginTime = factory.Time.GetUtcNow().ToUnixTimeSeconds();

        var response = await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce, nonce: "nonce-42"), "tina", "tina-password-1");
        factory.Time.Advance(TimeSpan.FromSeconds(20));
        var (status, body) = await tokens.RedeemCodeAsync(client, await OAuthFlows.CodeFromAsync(response, client), pkce);

        Assert.Equal(HttpStatusCode.OK, status);
        var result = await tokens.ValidateAsync(body.Token("id_token"), audience: client.ClientId, tokenType: null);
        Assert.True(result.IsValid, result.Exception?.ToString());
        Assert.Equal(userId, result.Claims["sub"]);
        Assert.Equal("nonce-42", result.Claims["nonce"]);
        Assert.Equal(loginTime, Convert.ToInt64(result.Claims["auth_time"], System.Globalization.CultureInfo.InvariantCulture));
        var expectedAtHash = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(
            System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(body.Token("access_token")))[..16]);
        Assert.Equal(expectedAtHash, result.Claims["at_hash"]);
    }
}
