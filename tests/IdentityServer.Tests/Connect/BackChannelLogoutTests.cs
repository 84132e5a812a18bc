using System.Net;
using System.Text.Json;
using IdentityServer.Connect;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// OpenID Connect Back-Channel Logout 1.0: an app that registered a back-channel logout URI hears, server to server,
/// when a browser session that signed in to it ends, and can end its own session for that user.
/// </summary>
public sealed class BackChannelLogoutTests(BackChannelLogoutTests.AppsFactory factory) : IClassFixture<BackChannelLogoutTests.AppsFactory>
{
    private readonly TokenClient tokens = new(factory);

    private static string LogoutUri(string clientId) => $"http://127.0.0.1:7000/{clientId}/backchannel-logout";

    [Fact]
    public async Task Discovery_says_back_channel_logout_is_supported_with_session_ids()
    {
        using var response = await tokens.Http.GetAsync("/.well-known/openid-configuration");
        var discovery = await TokenClient.ReadJsonAsync(response);

        Assert.True(discovery.GetProperty("backchannel_logout_supported").GetBoolean());
        Assert.True(discovery.GetProperty("backchannel_logout_session_supported").GetBoolean());
        Assert.Contains("sid", discovery.GetProperty("claims_supported").EnumerateArray().Select(claim => claim.GetString()));
    }

    [Fact]
    public async Task An_app_is_told_when_its_user_signs_out_with_a_signed_logout_token_naming_the_user_and_the_session()
    {
        var client = await tokens.RegisterCodeClientAsync("bcl-app", backChannelLogoutUri: LogoutUri("bcl-app"));
        // Registered for back-channel logout too, but never signed in to in this session: it hears nothing.
        await tokens.RegisterCodeClientAsync("bcl-other-app", backChannelLogoutUri: LogoutUri("bcl-other-app"));
        var userId = await tokens.RegisterUserAsync("bcl-user", "bcl-user-password");
        var browser = new BrowserSession(factory);
        var signedIn = await tokens.LogInAndRedeemAsync(browser, client, "bcl-user", "bcl-user-password");
        var idToken = new JsonWebToken(signedIn.Token("id_token"));
        var sessionId = idToken.GetClaim("sid").Value;
        Assert.False(string.IsNullOrEmpty(sessionId));
        // A refreshed ID token names the same session.
        var (_, refreshed) = await tokens.RefreshAsync(client, signedIn.Token("refresh_token"));
        Assert.Equal(sessionId, new JsonWebToken(refreshed.Token("id_token")).GetClaim("sid").Value);

        var response = await browser.GoAsync(EndSessionUrl(client, signedIn.Token("id_token")));

        Assert.Equal(client.PostLogoutRedirectUri, response.Headers.Location!.GetLeftPart(UriPartial.Path));
        var sent = Assert.Single(factory.Apps.ReceivedAt(LogoutUri("bcl-app")));
        Assert.Empty(factory.Apps.ReceivedAt(LogoutUri("bcl-other-app")));
        var validated = await tokens.ValidateAsync(sent, audience: "bcl-app", tokenType: "logout+jwt");
        Assert.True(validated.IsValid, $"logout token invalid: {validated.Exception}");
        var logoutToken = (JsonWebToken)validated.SecurityToken;
        Assert.Equal(idToken.Issuer, logoutToken.Issuer);
        Assert.Equal(userId, logoutToken.Subject);
        Assert.Equal(sessionId, logoutToken.GetClaim("sid").Value);
        Assert.False(string.IsNullOrEmpty(logoutToken.Id));
        Assert.False(logoutToken.TryGetClaim("nonce", out _));
        using var events = JsonDocument.Parse(logoutToken.GetClaim("events").Value);
        Assert.Equal(JsonValueKind.Object, events.RootElement.GetProperty(BackChannelLogout.LogoutEvent).ValueKind);
        Assert.True(logoutToken.ValidTo > logoutToken.IssuedAt);

        // Told once: signing out again (nobody is signed in now) sends nothing more.
        await browser.GoAsync(EndSessionUrl(client, idTokenHint: null));
        Assert.Single(factory.Apps.ReceivedAt(LogoutUri("bcl-app")));
    }

    [Fact]
    public async Task An_admin_logging_a_user_out_everywhere_tells_each_app_of_each_session()
    {
        var first = await tokens.RegisterCodeClientAsync("bcl-everywhere-1", backChannelLogoutUri: LogoutUri("bcl-everywhere-1"));
        var second = await tokens.RegisterCodeClientAsync("bcl-everywhere-2", backChannelLogoutUri: LogoutUri("bcl-everywhere-2"));
        var userId = await tokens.RegisterUserAsync("bcl-everywhere", "bcl-everywhere-password");
        var laptop = new BrowserSession(factory);
        var phone = new BrowserSession(factory);
        var laptopSid = await SessionIdAsync(laptop, first, "bcl-everywhere");
        var phoneSid = await SessionIdAsync(phone, first, "bcl-everywhere");
        Assert.Equal(laptopSid, await SessionIdAsync(laptop, second, "bcl-everywhere", signInAgain: false));
        Assert.NotEqual(laptopSid, phoneSid);

        var (status, _) = await tokens.AdminAsync(HttpMethod.Post, $"/admin/users/{userId}/logout");

        Assert.Equal(HttpStatusCode.NoContent, status);
        var toFirst = factory.Apps.ReceivedAt(LogoutUri("bcl-everywhere-1")).Select(token => new JsonWebToken(token)).ToList();
        Assert.Equal(new[] { laptopSid, phoneSid }.Order(StringComparer.Ordinal), toFirst.Select(token => token.GetClaim("sid").Value).Order(StringComparer.Ordinal));
        Assert.All(toFirst, token => Assert.Equal(userId, token.Subject));
        var toSecond = Assert.Single(factory.Apps.ReceivedAt(LogoutUri("bcl-everywhere-2")));
        Assert.Equal(laptopSid, new JsonWebToken(toSecond).GetClaim("sid").Value);
    }

    [Theory]
    [InlineData("disable")]
    [InlineData("delete")]
    [InlineData("password-reset")]
    public async Task An_admin_ending_a_users_sessions_another_way_tells_the_app_too(string action)
    {
        var client = await tokens.RegisterCodeClientAsync($"bcl-{action}", backChannelLogoutUri: LogoutUri($"bcl-{action}"));
        var userId = await tokens.RegisterUserAsync($"bcl-{action}", $"bcl-{action}-password");
        var sessionId = await SessionIdAsync(new BrowserSession(factory), client, $"bcl-{action}");

        var (status, body) = action switch
        {
            "disable" => await tokens.AdminAsync(HttpMethod.Put, $"/admin/users/{userId}", new { enabled = false }),
            "delete" => await tokens.AdminAsync(HttpMethod.Delete, $"/admin/users/{userId}"),
            _ => await tokens.AdminAsync(HttpMethod.Post, $"/admin/users/{userId}/password", new { password = "a-new-password-for-bcl" }),
        };

        Assert.True(status is HttpStatusCode.OK or HttpStatusCode.NoContent, $"{status} {body}");
        var sent = new JsonWebToken(Assert.Single(factory.Apps.ReceivedAt(LogoutUri($"bcl-{action}"))));
        Assert.Equal(sessionId, sent.GetClaim("sid").Value);
        Assert.Equal(userId, sent.Subject);
    }

    [Fact]
    public async Task Another_user_signing_in_on_the_same_browser_ends_the_previous_users_session_in_the_app_too()
    {
        var client = await tokens.RegisterCodeClientAsync("bcl-switch", backChannelLogoutUri: LogoutUri("bcl-switch"));
        var firstUser = await tokens.RegisterUserAsync("bcl-switch-1", "bcl-switch-1-password");
        await tokens.RegisterUserAsync("bcl-switch-2", "bcl-switch-2-password");
        var browser = new BrowserSession(factory);
        var firstSession = await SessionIdAsync(browser, client, "bcl-switch-1");

        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "login" }));
        await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "bcl-switch-2", ["password"] = "bcl-switch-2-password" });

        var sent = new JsonWebToken(Assert.Single(factory.Apps.ReceivedAt(LogoutUri("bcl-switch"))));
        Assert.Equal(firstSession, sent.GetClaim("sid").Value);
        Assert.Equal(firstUser, sent.Subject);
    }

    [Fact]
    public async Task An_app_signing_its_user_out_without_the_browsers_cookie_ends_the_session_its_id_token_names()
    {
        var (client, _, browser, signedIn) = await SignedInAsync("bcl-hint-only");
        var sessionId = new JsonWebToken(signedIn.Token("id_token")).GetClaim("sid").Value;

        // Not the browser: no session cookie, only the app's ID token (as Keycloak accepts).
        using var response = await tokens.Http.GetAsync(EndSessionUrl(client, signedIn.Token("id_token")));

        Assert.Equal(client.PostLogoutRedirectUri, response.Headers.Location!.GetLeftPart(UriPartial.Path));
        Assert.Equal(sessionId, new JsonWebToken(Assert.Single(factory.Apps.ReceivedAt(LogoutUri("bcl-hint-only")))).GetClaim("sid").Value);
        await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()));
        Assert.Equal("/account/login", browser.PageUri!.AbsolutePath);
    }

    [Fact]
    public async Task A_session_the_app_keeps_refreshing_for_weeks_is_still_announced()
    {
        var client = await tokens.RegisterCodeClientAsync("bcl-weeks", backChannelLogoutUri: LogoutUri("bcl-weeks"));
        var userId = await tokens.RegisterUserAsync("bcl-weeks", "bcl-weeks-password");
        var signedIn = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "bcl-weeks", "bcl-weeks-password");
        var refreshToken = signedIn.Token("refresh_token");
        var pruner = factory.Services.GetRequiredService<IdentityServer.Persistence.TokenPruner>();

        // Three weeks, longer than a refresh token lives unused (14 days), with a refresh every ten days.
        for (var week = 0; week < 2; week++)
        {
            factory.Time.Advance(TimeSpan.FromDays(10));
            var (status, refreshed) = await tokens.RefreshAsync(client, refreshToken);
            Assert.True(status == HttpStatusCode.OK, refreshed.ToString());
            refreshToken = refreshed.Token("refresh_token");
            await pruner.PruneOnceAsync(CancellationToken.None);
        }

        var (loggedOut, _) = await tokens.AdminAsync(HttpMethod.Post, $"/admin/users/{userId}/logout");

        Assert.Equal(HttpStatusCode.NoContent, loggedOut);
        Assert.Equal(userId, new JsonWebToken(Assert.Single(factory.Apps.ReceivedAt(LogoutUri("bcl-weeks")))).Subject);
    }

    [Fact]
    public async Task A_failure_while_telling_the_apps_does_not_fail_the_sign_out_or_the_admins_logout()
    {
        var (client, userId, browser, signedIn) = await SignedInAsync("bcl-failing");
        factory.Apps.FailAt(LogoutUri("bcl-failing"));

        var response = await browser.GoAsync(EndSessionUrl(client, signedIn.Token("id_token")));

        Assert.Equal(client.PostLogoutRedirectUri, response.Headers.Location!.GetLeftPart(UriPartial.Path));
        await SessionIdAsync(new BrowserSession(factory), client, "bcl-failing");
        Assert.Equal(HttpStatusCode.NoContent, (await tokens.AdminAsync(HttpMethod.Post, $"/admin/users/{userId}/logout")).Status);
    }

    [Fact]
    public async Task A_code_issued_before_its_session_ended_is_refused_after()
    {
        var client = await tokens.RegisterCodeClientAsync("bcl-late-code", backChannelLogoutUri: LogoutUri("bcl-late-code"));
        await tokens.RegisterUserAsync("bcl-late-code", "bcl-late-code-password");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var code = await OAuthFlows.CodeFromAsync(
            await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "bcl-late-code", "bcl-late-code-password"), client);

        await browser.GoAsync(EndSessionUrl(client, idTokenHint: null));
        await browser.ClickAsync("logout");
        var (status, body) = await tokens.RedeemCodeAsync(client, code, pkce);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_grant", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task An_admin_revoking_a_users_consent_to_an_app_tells_that_app_alone()
    {
        var (client, userId, browser, _) = await SignedInAsync("bcl-consent");
        var other = await tokens.RegisterCodeClientAsync("bcl-consent-other", backChannelLogoutUri: LogoutUri("bcl-consent-other"));
        var sessionId = await SessionIdAsync(browser, client, "bcl-consent", signInAgain: false);
        await SessionIdAsync(browser, other, "bcl-consent", signInAgain: false);

        var (status, _) = await tokens.AdminAsync(HttpMethod.Delete, $"/admin/users/{userId}/consents/{client.ClientId}");

        Assert.Equal(HttpStatusCode.NoContent, status);
        Assert.Equal(sessionId, new JsonWebToken(Assert.Single(factory.Apps.ReceivedAt(LogoutUri("bcl-consent")))).GetClaim("sid").Value);
        Assert.Empty(factory.Apps.ReceivedAt(LogoutUri("bcl-consent-other")));
    }

    [Fact]
    public async Task An_app_that_never_answers_holds_the_sign_out_back_for_the_timeout_only()
    {
        var (client, _, browser, signedIn) = await SignedInAsync("bcl-silent");
        var reached = factory.Apps.HangAt(LogoutUri("bcl-silent"));

        var signingOut = browser.GoAsync(EndSessionUrl(client, signedIn.Token("id_token")));
        await reached.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(signingOut.IsCompleted);
        factory.Time.Advance(TimeSpan.FromSeconds(5));
        var response = await signingOut.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(client.PostLogoutRedirectUri, response.Headers.Location!.GetLeftPart(UriPartial.Path));
    }

    [Fact]
    public async Task An_admin_sets_changes_and_removes_a_clients_back_channel_logout_uri()
    {
        await tokens.RegisterCodeClientAsync("bcl-admin", backChannelLogoutUri: "https://app.example.com/logout");
        var (_, created) = await tokens.AdminAsync(HttpMethod.Get, "/admin/clients/bcl-admin");
        Assert.Equal("https://app.example.com/logout", created.GetProperty("backChannelLogoutUri").GetString());

        var (changed, body) = await tokens.AdminAsync(HttpMethod.Put, "/admin/clients/bcl-admin", new { backChannelLogoutUri = "https://app.example.com/bcl" });
        Assert.Equal(HttpStatusCode.OK, changed);
        Assert.Equal("https://app.example.com/bcl", body.GetProperty("backChannelLogoutUri").GetString());
        // Left out, it stays.
        var (_, kept) = await tokens.AdminAsync(HttpMethod.Put, "/admin/clients/bcl-admin", new { displayName = "Renamed" });
        Assert.Equal("https://app.example.com/bcl", kept.GetProperty("backChannelLogoutUri").GetString());

        var (_, removed) = await tokens.AdminAsync(HttpMethod.Put, "/admin/clients/bcl-admin", new { backChannelLogoutUri = "" });
        Assert.Equal(JsonValueKind.Null, removed.GetProperty("backChannelLogoutUri").ValueKind);
    }

    [Theory]
    [InlineData("/relative/logout")]
    [InlineData("http://app.example.com/logout")]
    [InlineData("https://app.example.com/logout#fragment")]
    [InlineData("com.example.app:/logout")]
    public async Task A_back_channel_logout_uri_that_is_not_an_https_address_is_refused(string uri)
    {
        var (status, body) = await tokens.AdminAsync(HttpMethod.Post, "/admin/clients", new
        {
            clientId = "bcl-refused", clientType = "confidential", grantTypes = new[] { "client_credentials" },
            scopes = Array.Empty<string>(), backChannelLogoutUri = uri,
        });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(body.GetProperty("errors").TryGetProperty("backChannelLogoutUri", out _), body.ToString());
    }

    private static string EndSessionUrl(TestClient client, string? idTokenHint) =>
        QueryHelpers.AddQueryString("/connect/endsession", new Dictionary<string, string?>
        {
            ["post_logout_redirect_uri"] = client.PostLogoutRedirectUri,
            ["id_token_hint"] = idTokenHint,
        }.Where(parameter => parameter.Value is not null));

    /// <summary>A new app with a back-channel logout URI and a new user of the same name, signed in to it in a browser.</summary>
    private async Task<(TestClient Client, string UserId, BrowserSession Browser, JsonElement SignedIn)> SignedInAsync(string name)
    {
        var client = await tokens.RegisterCodeClientAsync(name, backChannelLogoutUri: LogoutUri(name));
        var userId = await tokens.RegisterUserAsync(name, name + "-password");
        var browser = new BrowserSession(factory);
        return (client, userId, browser, await tokens.LogInAndRedeemAsync(browser, client, name, name + "-password"));
    }

    /// <summary>Signs the browser in to the app (or, already signed in, only authorizes it); the sid of its ID token.</summary>
    private async Task<string> SessionIdAsync(BrowserSession browser, TestClient client, string username, bool signInAgain = true)
    {
        JsonElement body;
        if (signInAgain)
        {
            body = await tokens.LogInAndRedeemAsync(browser, client, username, username + "-password");
        }
        else
        {
            var pkce = Pkce.Create();
            var code = await OAuthFlows.CodeFromAsync(await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce)), client);
            (_, body) = await tokens.RedeemCodeAsync(client, code, pkce);
        }

        return new JsonWebToken(body.Token("id_token")).GetClaim("sid").Value;
    }

    /// <summary>The apps' back-channel logout endpoints, in place of the network.</summary>
    public sealed class AppsFactory : IdentityServerFactory
    {
        public LogoutEndpoints Apps { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            Apps.Replace(builder);
        }
    }
}

/// <summary>Back-channel logout over a real socket, to an app that answers with a redirect and a cookie.</summary>
public sealed class BackChannelLogoutOverTheNetworkTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task The_server_posts_once_to_the_registered_address_following_no_redirect_and_sending_no_cookie()
    {
        var requests = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.Use(async (context, next) =>
        {
            requests.Enqueue($"{context.Request.Method} {context.Request.Path} cookie={context.Request.Headers.Cookie}");
            await next(context);
        });
        app.MapPost("/logout", (HttpContext context) =>
        {
            context.Response.Cookies.Append("app-session", "x");
            return Results.Redirect("/landed");
        });
        app.Map("/landed", () => Results.Ok());
        await app.StartAsync();
        var listening = app.Urls.Single();

        var client = await tokens.RegisterCodeClientAsync("bcl-network", backChannelLogoutUri: listening + "/logout");
        await tokens.RegisterUserAsync("bcl-network", "bcl-network-password");
        var browser = new BrowserSession(factory);
        var signedIn = await tokens.LogInAndRedeemAsync(browser, client, "bcl-network", "bcl-network-password");
        await browser.GoAsync(QueryHelpers.AddQueryString("/connect/endsession", "id_token_hint", signedIn.Token("id_token")));
        // A second sign-out of the same browser finds nothing more to announce.
        await browser.GoAsync("/connect/endsession");

        Assert.Equal(["POST /logout cookie="], requests);
    }
}
