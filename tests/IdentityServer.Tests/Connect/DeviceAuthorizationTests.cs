using System.Net;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.Abstractions;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// RFC 8628: a device without a browser (a TV, a command-line tool) asks for a code, its user approves it on another
/// device's browser, and the device, polling the token endpoint, gets its tokens.
/// </summary>
public sealed class DeviceAuthorizationTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Discovery_advertises_the_device_authorization_endpoint_and_grant()
    {
        using var response = await tokens.Http.GetAsync("/.well-known/openid-configuration");
        var discovery = await TokenClient.ReadJsonAsync(response);

        Assert.EndsWith("/connect/device", discovery.GetProperty("device_authorization_endpoint").GetString(), StringComparison.Ordinal);
        Assert.Contains(DeviceFlow.DeviceCodeGrant, discovery.GetProperty("grant_types_supported").EnumerateArray().Select(g => g.GetString()));
    }

    [Fact]
    public async Task A_user_who_approves_the_code_in_a_browser_gives_the_device_access_id_and_refresh_tokens()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-app");
        var userId = await tokens.RegisterUserAsync("dora", "dora-password-1");
        var device = await tokens.AskForDeviceCodeAsync(client);

        var (pending, pendingBody) = await tokens.PollAsync(client, device);
        Assert.Equal(HttpStatusCode.BadRequest, pending);
        Assert.Equal("authorization_pending", pendingBody.GetProperty("error").GetString());

        var browser = new BrowserSession(factory);
        await DeviceFlow.SignInAtVerificationPageAsync(browser, device, "dora", "dora-password-1");
        Assert.Equal("The tv-app app", browser.Page!.GetElementById("client-name")!.TextContent);
        Assert.Equal(device.GetProperty("user_code").GetString(), browser.Page.GetElementById("user-code")!.TextContent);
        Assert.Contains("offline_access", browser.Page.QuerySelectorAll("#scopes li").Select(li => li.GetAttribute("data-scope")));
        await browser.ClickAsync("accept");
        Assert.NotNull(browser.Page.GetElementById("device-approved"));

        var (status, body) = await tokens.PollAsync(client, device);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var access = await tokens.ValidateAccessTokenAsync(body.Token("access_token"));
        Assert.Equal(userId, access.Subject);
        Assert.Equal(client.ClientId, access.GetClaim("client_id").Value);
        Assert.False(string.IsNullOrEmpty(body.Token("id_token")));

        var (refreshed, refreshedBody) = await tokens.RefreshAsync(client, body.Token("refresh_token"));
        Assert.True(refreshed == HttpStatusCode.OK, refreshedBody.ToString());

        // The device code works once.
        var (again, againBody) = await tokens.PollAsync(client, device);
        Assert.Equal(HttpStatusCode.BadRequest, again);
        Assert.Equal("invalid_grant", againBody.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_device_that_polls_faster_than_the_interval_it_was_given_is_told_to_slow_down()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-impatient");
        var device = await tokens.AskForDeviceCodeAsync(client);
        Assert.Equal(5, device.GetProperty("interval").GetInt32());

        var (_, first) = await tokens.PollAsync(client, device);
        var (_, tooSoon) = await tokens.PollAsync(client, device);
        factory.Time.Advance(TimeSpan.FromSeconds(5));
        var (_, onTime) = await tokens.PollAsync(client, device);

        Assert.Equal("authorization_pending", first.GetProperty("error").GetString());
        Assert.Equal("slow_down", tooSoon.GetProperty("error").GetString());
        Assert.Equal("authorization_pending", onTime.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Opening_an_approved_code_again_shows_it_used_and_leaves_the_device_signed_in()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-back-button");
        await tokens.RegisterUserAsync("bea", "bea-password-1");
        await tokens.RegisterUserAsync("bob-device", "bob-password-1");
        var device = await tokens.AskForDeviceCodeAsync(client);
        var complete = new Uri(device.GetProperty("verification_uri_complete").GetString()!).PathAndQuery;
        var browser = await DeviceFlow.ApproveAsync(factory, device, "bea", "bea-password-1");

        // The Back button, before the device has polled.
        await browser.GoAsync(complete);
        Assert.NotNull(browser.Page!.GetElementById("verify-error"));
        var (status, body) = await tokens.PollAsync(client, device);
        Assert.True(status == HttpStatusCode.OK, body.ToString());

        // Someone else who saw the code on the screen, after the device has its tokens.
        var other = new BrowserSession(factory);
        await other.GoAsync(complete);
        await other.ClickAsync("login", new Dictionary<string, string> { ["username"] = "bob-device", ["password"] = "bob-password-1" });
        Assert.NotNull(other.Page!.GetElementById("verify-error"));
        var (refreshed, refreshedBody) = await tokens.RefreshAsync(client, body.Token("refresh_token"));
        Assert.True(refreshed == HttpStatusCode.OK, refreshedBody.ToString());
    }

    [Theory]
    [InlineData("/connect/revoke", "user_code")]
    [InlineData("/connect/introspect", "user_code")]
    [InlineData("/connect/revoke", "device_code")]
    [InlineData("/connect/introspect", "device_code")]
    public async Task A_used_code_sent_to_revocation_or_introspection_leaves_the_device_signed_in(string endpoint, string code)
    {
        var name = endpoint.Replace("/connect/", string.Empty) + "-" + code.Replace('_', '-');
        var client = await tokens.RegisterDeviceClientAsync("tv-sent-" + name);
        var api = await RegisterIntrospectingApiAsync("api-sent-" + name);
        await tokens.RegisterUserAsync("sam-" + name, "sam-password-1");
        var device = await tokens.AskForDeviceCodeAsync(client);
        await DeviceFlow.ApproveAsync(factory, device, "sam-" + name, "sam-password-1");
        var (_, body) = await tokens.PollAsync(client, device);

        // A user code as typed on a keyboard (digits only: how OpenIddict finds it), or the device's own code.
        var sent = code == "user_code"
            ? device.GetProperty("user_code").GetString()!.Replace("-", string.Empty)
            : device.GetProperty("device_code").GetString()!;
        var (status, answer) = await PostAsClientAsync(endpoint, api, sent);
        Assert.True(status == HttpStatusCode.OK, answer.ToString());

        var (refreshed, refreshedBody) = await tokens.RefreshAsync(client, body.Token("refresh_token"));
        Assert.True(refreshed == HttpStatusCode.OK, refreshedBody.ToString());
    }

    [Fact]
    public async Task A_device_code_still_waiting_for_its_user_introspects_inactive()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-pending-introspected");
        var api = await RegisterIntrospectingApiAsync("api-pending-introspected");
        var device = await tokens.AskForDeviceCodeAsync(client);

        var (status, answer) = await PostAsClientAsync("/connect/introspect", api, device.GetProperty("device_code").GetString()!);

        Assert.True(status == HttpStatusCode.OK, answer.ToString());
        Assert.False(answer.GetProperty("active").GetBoolean());
    }

    private async Task<TestClient> RegisterIntrospectingApiAsync(string clientId)
    {
        var secret = await tokens.RegisterClientAsync(new
        {
            clientId, clientType = "confidential", grantTypes = Array.Empty<string>(), scopes = Array.Empty<string>(),
        });
        return new TestClient(clientId, secret, string.Empty, string.Empty);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsClientAsync(string endpoint, TestClient client, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token }),
        };
        request.Headers.Authorization = TokenClient.Basic(client.ClientId, client.Secret!);
        using var response = await tokens.Http.SendAsync(request);
        return (response.StatusCode, await TokenClient.ReadJsonAsync(response));
    }

    [Fact]
    public async Task A_device_asking_only_for_what_the_user_may_not_have_is_refused_not_left_waiting()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-admin-only", "admin");
        await tokens.RegisterUserAsync("nat", "nat-password-1");
        var device = await tokens.AskForDeviceCodeAsync(client, "admin");
        var browser = new BrowserSession(factory);
        await DeviceFlow.SignInAtVerificationPageAsync(browser, device, "nat", "nat-password-1");

        await browser.ClickAsync("accept");
        var (status, body) = await tokens.PollAsync(client, device);

        Assert.NotNull(browser.Page!.GetElementById("device-not-grantable"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("access_denied", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task An_approved_device_is_a_grant_of_its_user_that_revoking_the_users_consent_to_the_app_ends()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-grant");
        var userId = await tokens.RegisterUserAsync("gina", "gina-password-1");
        var device = await tokens.AskForDeviceCodeAsync(client);
        await DeviceFlow.ApproveAsync(factory, device, "gina", "gina-password-1");
        var (_, body) = await tokens.PollAsync(client, device);

        using (var scope = factory.Services.CreateScope())
        {
            var authorizations = scope.ServiceProvider.GetRequiredService<IOpenIddictAuthorizationManager>();
            var grants = new List<object>();
            await foreach (var grant in authorizations.FindBySubjectAsync(userId))
            {
                grants.Add(grant);
            }

            var only = Assert.Single(grants);
            Assert.Equal(OpenIddictConstants.AuthorizationTypes.AdHoc, await authorizations.GetTypeAsync(only));
            Assert.Equal(["offline_access", "openid", "profile"], (await authorizations.GetScopesAsync(only)).Order(StringComparer.Ordinal));
        }

        var (revoked, revokedBody) = await tokens.AdminAsync(HttpMethod.Delete, $"/admin/users/{userId}/consents/{client.ClientId}");
        Assert.True(revoked == HttpStatusCode.NoContent, revokedBody.ToString());
        var (refreshed, _) = await tokens.RefreshAsync(client, body.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.BadRequest, refreshed);
    }

    [Fact]
    public async Task A_device_that_names_no_scope_asks_for_what_its_client_may_use()
    {
        await tokens.RegisterScopeAsync("tv-guide", "tv-guide-api");
        var client = await tokens.RegisterDeviceClientAsync("tv-no-scope", "openid profile offline_access tv-guide");
        await tokens.RegisterUserAsync("nico", "nico-password-1");
        using var response = await tokens.Http.PostAsync("/connect/device",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = client.ClientId }));
        var device = await TokenClient.ReadJsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, device.ToString());

        var browser = new BrowserSession(factory);
        await DeviceFlow.SignInAtVerificationPageAsync(browser, device, "nico", "nico-password-1");
        Assert.Equal(["offline_access", "openid", "profile", "tv-guide"],
            browser.Page!.QuerySelectorAll("#scopes li").Select(li => li.GetAttribute("data-scope")!).Order(StringComparer.Ordinal));
        await browser.ClickAsync("accept");
        var (status, body) = await tokens.PollAsync(client, device);

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Contains("tv-guide-api", (await tokens.ValidateAccessTokenAsync(body.Token("access_token"), "tv-guide-api")).Audiences);
    }

    [Fact]
    public async Task A_device_asking_for_a_scope_its_client_may_not_use_gets_invalid_scope()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-greedy");

        using var response = await tokens.Http.PostAsync("/connect/device", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = client.ClientId, ["scope"] = "openid admin",
        }));
        var body = await TokenClient.ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_scope", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_user_who_denies_the_code_sends_the_device_access_denied()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-denied");
        await tokens.RegisterUserAsync("dan", "dan-password-1");
        var device = await tokens.AskForDeviceCodeAsync(client);

        var browser = new BrowserSession(factory);
        await DeviceFlow.SignInAtVerificationPageAsync(browser, device, "dan", "dan-password-1");
        await browser.ClickAsync("deny");
        Assert.NotNull(browser.Page!.GetElementById("device-denied"));

        var (status, body) = await tokens.PollAsync(client, device);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("access_denied", body.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("as shown")]
    [InlineData("without the dashes")]
    [InlineData("with spaces around")]
    [InlineData("with spaces for dashes")]
    public async Task A_user_who_types_the_code_on_the_verification_page_reaches_the_confirmation(string typed)
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-typed-" + typed.Replace(' ', '-'));
        await tokens.RegisterUserAsync("tia-" + typed.Replace(' ', '-'), "tia-password-1");
        var device = await tokens.AskForDeviceCodeAsync(client);
        var shown = device.GetProperty("user_code").GetString()!;

        var browser = new BrowserSession(factory);
        await browser.GoAsync(new Uri(device.GetProperty("verification_uri").GetString()!).PathAndQuery);
        await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "tia-" + typed.Replace(' ', '-'), ["password"] = "tia-password-1" });
        Assert.NotNull(browser.Page!.GetElementById("user-code-input"));
        await browser.ClickAsync("verify", new Dictionary<string, string>
        {
            ["user-code-input"] = typed switch
            {
                "without the dashes" => shown.Replace("-", string.Empty),
                "with spaces around" => "  " + shown + " ",
                "with spaces for dashes" => shown.Replace('-', ' '),
                _ => shown,
            },
        });

        Assert.True(browser.Page.GetElementById("accept") is not null, browser.Page.Body?.TextContent);
        Assert.Equal(shown, browser.Page.GetElementById("user-code")!.TextContent);
        await browser.ClickAsync("accept");
        var (status, body) = await tokens.PollAsync(client, device);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
    }

    [Fact]
    public async Task A_wrong_code_keeps_the_user_on_the_page_with_a_message_and_a_used_one_no_longer_works()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-wrong-code");
        await tokens.RegisterUserAsync("wes", "wes-password-1");
        var device = await tokens.AskForDeviceCodeAsync(client);
        var browser = await DeviceFlow.ApproveAsync(factory, device, "wes", "wes-password-1");

        await browser.GoAsync("/connect/verify");
        await browser.ClickAsync("verify", new Dictionary<string, string> { ["user-code-input"] = " " });
        Assert.Equal("Enter the code shown on your device.", browser.Page!.GetElementById("verify-error")!.TextContent);

        using var wrong = await browser.GoAsync("/connect/verify?user_code=0000-0000-0000");
        Assert.Equal(HttpStatusCode.OK, wrong.StatusCode);
        Assert.NotNull(browser.Page!.GetElementById("verify-error"));
        Assert.Null(browser.Page.GetElementById("accept"));

        using var used = await browser.GoAsync(new Uri(device.GetProperty("verification_uri_complete").GetString()!).PathAndQuery);
        Assert.NotNull(browser.Page!.GetElementById("verify-error"));
        Assert.Null(browser.Page.GetElementById("accept"));
    }

    [Fact]
    public async Task The_page_asks_who_is_there_before_it_says_anything_about_a_code()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-anonymous");
        var device = await tokens.AskForDeviceCodeAsync(client);

        using var response = await tokens.Http.GetAsync(new Uri(device.GetProperty("verification_uri_complete").GetString()!).PathAndQuery);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/account/login?ReturnUrl=", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.DoesNotContain(client.ClientId, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_user_disabled_after_approving_gets_the_device_nothing()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-disabled");
        var userId = await tokens.RegisterUserAsync("dex", "dex-password-1");
        var device = await tokens.AskForDeviceCodeAsync(client);
        await DeviceFlow.ApproveAsync(factory, device, "dex", "dex-password-1");

        var (disabled, disabledBody) = await tokens.AdminAsync(HttpMethod.Put, $"/admin/users/{userId}", new { enabled = false });
        Assert.True(disabled == HttpStatusCode.OK, disabledBody.ToString());
        var (status, body) = await tokens.PollAsync(client, device);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_grant", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_code_the_user_never_approves_expires()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-expired");
        var device = await tokens.AskForDeviceCodeAsync(client);

        factory.Time.Advance(TimeSpan.FromSeconds(device.GetProperty("expires_in").GetInt32() + 1));
        var (status, body) = await tokens.PollAsync(client, device);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("expired_token", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_client_not_registered_for_the_device_grant_cannot_ask_for_a_code()
    {
        var client = await tokens.RegisterCodeClientAsync("web-no-device", isPublic: true);

        using var response = await tokens.Http.PostAsync("/connect/device", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = client.ClientId,
            ["scope"] = "openid",
        }));
        var body = await TokenClient.ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("unauthorized_client", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_confidential_device_client_authenticates_when_it_asks_for_a_code_and_when_it_polls()
    {
        var secret = await tokens.RegisterClientAsync(new
        {
            clientId = "cli-tool",
            displayName = "The cli-tool app",
            clientType = "confidential",
            grantTypes = new[] { DeviceFlow.DeviceCodeGrant },
            scopes = new[] { "openid", "offline_access" },
        });
        var (status, clientView) = await tokens.AdminAsync(HttpMethod.Get, "/admin/clients/cli-tool");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(DeviceFlow.DeviceCodeGrant, clientView.GetProperty("grantTypes").EnumerateArray().Select(g => g.GetString()));

        using var anonymous = await tokens.Http.PostAsync("/connect/device",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = "cli-tool", ["scope"] = "openid" }));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("invalid_client", (await TokenClient.ReadJsonAsync(anonymous)).GetProperty("error").GetString());

        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/device")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["scope"] = "openid offline_access" }),
        };
        request.Headers.Authorization = TokenClient.Basic("cli-tool", secret!);
        using var response = await tokens.Http.SendAsync(request);
        var device = await TokenClient.ReadJsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, device.ToString());

        await tokens.RegisterUserAsync("cora", "cora-password-1");
        await DeviceFlow.ApproveAsync(factory, device, "cora", "cora-password-1");
        var (polled, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = DeviceFlow.DeviceCodeGrant, ["device_code"] = device.GetProperty("device_code").GetString()!,
        }, "cli-tool", secret);

        Assert.True(polled == HttpStatusCode.OK, body.ToString());
        Assert.False(string.IsNullOrEmpty(body.Token("refresh_token")));
    }

    [Fact]
    public async Task A_replayed_refresh_token_of_a_device_revokes_that_device_chain_only()
    {
        var client = await tokens.RegisterDeviceClientAsync("tv-replay");
        await tokens.RegisterUserAsync("rey", "rey-password-1");
        var first = await ApprovedDeviceTokensAsync(client, "rey", "rey-password-1");
        var second = await ApprovedDeviceTokensAsync(client, "rey", "rey-password-1");

        var (rotated, rotatedBody) = await tokens.RefreshAsync(client, first.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.OK, rotated);
        var (replayed, _) = await tokens.RefreshAsync(client, first.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.BadRequest, replayed);

        var (afterReplay, _) = await tokens.RefreshAsync(client, rotatedBody.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.BadRequest, afterReplay);
        var (otherDevice, otherBody) = await tokens.RefreshAsync(client, second.Token("refresh_token"));
        Assert.True(otherDevice == HttpStatusCode.OK, otherBody.ToString());
    }

    private async Task<JsonElement> ApprovedDeviceTokensAsync(TestClient client, string username, string password)
    {
        var device = await tokens.AskForDeviceCodeAsync(client);
        await DeviceFlow.ApproveAsync(factory, device, username, password);
        var (status, body) = await tokens.PollAsync(client, device);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        return body;
    }
}
