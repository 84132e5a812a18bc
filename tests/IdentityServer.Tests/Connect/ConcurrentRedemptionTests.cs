using System.Net;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// A redemption past its checks racing with another redemption of the same code or refresh token, or with a
/// revocation (reuse of the chain, an admin disabling the user): the worst interleavings, forced by holding requests
/// inside the server rather than hoped for with timing.
/// </summary>
public sealed class ConcurrentRedemptionTests(ConcurrentRedemptionTests.RaceFactory factory)
    : IClassFixture<ConcurrentRedemptionTests.RaceFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Of_two_simultaneous_redemptions_of_one_refresh_token_exactly_one_succeeds()
    {
        var (client, refreshToken) = await tokens.SignedInUserAsync(factory, "race-refresh", "racer1");

        factory.Rendezvous.Arm(2);
        var results = await Task.WhenAll(tokens.RefreshAsync(client, refreshToken), tokens.RefreshAsync(client, refreshToken));

        Assert.Equal(2, factory.Rendezvous.Arrived);
        AssertOneWinner(results);
    }

    [Fact]
    public async Task Of_two_simultaneous_redemptions_of_one_authorization_code_exactly_one_succeeds()
    {
        var client = await tokens.RegisterCodeClientAsync("race-code");
        await tokens.RegisterUserAsync("racer2", "racer2-password");
        var pkce = Pkce.Create();
        var browser = new BrowserSession(factory);
        var code = await OAuthFlows.CodeFromAsync(
            await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "racer2", "racer2-password"), client);

        factory.Rendezvous.Arm(2);
        var results = await Task.WhenAll(tokens.RedeemCodeAsync(client, code, pkce), tokens.RedeemCodeAsync(client, code, pkce));

        Assert.Equal(2, factory.Rendezvous.Arrived);
        AssertOneWinner(results);
    }

    [Fact]
    public async Task Of_two_simultaneous_polls_of_an_approved_device_code_exactly_one_is_answered_with_tokens()
    {
        var client = await tokens.RegisterDeviceClientAsync("race-device");
        await tokens.RegisterUserAsync("racer-device1", "racer-device1-password");
        var device = await tokens.AskForDeviceCodeAsync(client);
        await DeviceFlow.ApproveAsync(factory, device, "racer-device1", "racer-device1-password");

        factory.Rendezvous.Arm(2);
        var results = await Task.WhenAll(tokens.PollAsync(client, device), tokens.PollAsync(client, device));

        Assert.Equal(2, factory.Rendezvous.Arrived);
        AssertOneWinner(results);
    }

    [Fact]
    public async Task Of_two_tabs_approving_one_user_code_at_once_one_approves_the_device_and_the_other_is_told_the_code_is_used()
    {
        var client = await tokens.RegisterDeviceClientAsync("race-approve");
        await tokens.RegisterUserAsync("racer-device2", "racer-device2-password");
        var device = await tokens.AskForDeviceCodeAsync(client);
        var browser = new BrowserSession(factory);
        await DeviceFlow.SignInAtVerificationPageAsync(browser, device, "racer-device2", "racer-device2-password");
        // The second tab: the same browser (its cookies), the same confirmation page.
        var form = new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = browser.Page!.QuerySelector("input[name=__RequestVerificationToken]")!.GetAttribute("value")!,
            ["user_code"] = device.GetProperty("user_code").GetString()!,
            ["decision"] = "accept",
        };

        // Not forced: whichever order they take, the device's grant goes to one of them (an optimistic update of its
        // row), and its user code is redeemed once (RedeemTokenOnce).
        var answers = await Task.WhenAll(
            browser.Http.PostAsync("/connect/verify", new FormUrlEncodedContent(form)),
            browser.Http.PostAsync("/connect/verify", new FormUrlEncodedContent(form)));

        var summary = string.Join(" | ", answers.Select(a => $"{(int)a.StatusCode} {a.Headers.Location}"));
        Assert.Single(answers, a => a.Headers.Location?.OriginalString.EndsWith("/connect/verify?outcome=approved", StringComparison.Ordinal) == true);
        var loser = Assert.Single(answers, a => a.Headers.Location is null);
        Assert.True(loser.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest, summary);
        Assert.Matches("id=\"(verify-error|error-description)\"", await loser.Content.ReadAsStringAsync());
        var (status, body) = await tokens.PollAsync(client, device);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
    }

    [Fact]
    public async Task A_refresh_token_used_again_later_fails_and_takes_its_successor_with_it()
    {
        // The sequential case still goes through OpenIddict's own reuse detection, with this server's handler in place.
        var (client, original) = await tokens.SignedInUserAsync(factory, "reuse-refresh", "racer3");
        var (rotated, body) = await tokens.RefreshAsync(client, original);
        Assert.True(rotated == HttpStatusCode.OK, body.ToString());
        var successor = body.GetProperty("refresh_token").GetString()!;

        var (reused, reuseBody) = await tokens.RefreshAsync(client, original);
        var (afterReuse, afterReuseBody) = await tokens.RefreshAsync(client, successor);

        Assert.Equal(HttpStatusCode.BadRequest, reused);
        Assert.Equal(Errors.InvalidGrant, reuseBody.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, afterReuse);
        Assert.Equal(Errors.InvalidGrant, afterReuseBody.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_refresh_that_checked_the_user_just_before_an_admin_disabled_them_gets_no_tokens()
    {
        var (client, userId, refreshToken) = await SignedInAsync("race-disable", "racer4");

        // The refresh has read the user (still enabled) and is about to redeem its token when the admin disables them.
        var (status, body) = await RefreshHeldAtAsync(factory.Hold, client, refreshToken, () => tokens.DisableUserAsync(userId, "racer4"));

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {body}");
        Assert.Equal(Errors.InvalidGrant, body.GetProperty("error").GetString());
        await AssertNoValidTokenAsync(userId);
    }

    [Fact]
    public async Task A_refresh_in_flight_when_its_chain_is_revoked_for_reuse_gets_no_tokens()
    {
        // The thief's case: the victim's old refresh token comes back while the chain's newest one is being redeemed.
        var (client, userId, original) = await SignedInAsync("race-reuse", "racer5");
        var (rotated, rotatedBody) = await tokens.RefreshAsync(client, original);
        Assert.True(rotated == HttpStatusCode.OK, rotatedBody.ToString());
        var reused = HttpStatusCode.OK;

        var (status, body) = await RefreshHeldAtAsync(factory.Hold, client, rotatedBody.Token("refresh_token"),
            async () => (reused, _) = await tokens.RefreshAsync(client, original));

        Assert.Equal(HttpStatusCode.BadRequest, reused);
        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {body}");
        Assert.Equal(Errors.InvalidGrant, body.GetProperty("error").GetString());
        await AssertNoValidTokenAsync(userId);
    }

    [Fact]
    public async Task A_chain_revoked_for_reuse_while_a_refresh_commits_its_new_tokens_takes_those_tokens_too()
    {
        // The refresh has written its new tokens and holds its token row, not yet committed, when the old refresh
        // token comes back: the revocation waits for that commit and must still take the tokens it made visible.
        var (client, userId, original) = await SignedInAsync("race-reuse-commit", "racer9");
        var (rotated, rotatedBody) = await tokens.RefreshAsync(client, original);
        Assert.True(rotated == HttpStatusCode.OK, rotatedBody.ToString());
        using var commits = new CommitHold(factory);
        Task<(HttpStatusCode Status, JsonElement Body)>? reuse = null;

        var (status, body) = await commits.Hold.AroundAsync(() => tokens.RefreshAsync(client, rotatedBody.Token("refresh_token")), async () =>
        {
            reuse = tokens.RefreshAsync(client, original);
            await WaitUntilARevocationWaitsForTheRefreshAsync(reuse);
        });
        var (reused, _) = await reuse!;

        Assert.Equal(HttpStatusCode.BadRequest, reused);
        Assert.True(status is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"{(int)status} {body}");
        await AssertNoValidTokenAsync(userId);
    }

    [Fact]
    public async Task A_user_disabled_while_a_refresh_commits_its_new_tokens_keeps_none_of_them()
    {
        var (client, userId, refreshToken) = await SignedInAsync("race-disable-commit", "racer10");
        using var commits = new CommitHold(factory);
        Task? disable = null;

        var (status, body) = await commits.Hold.AroundAsync(() => tokens.RefreshAsync(client, refreshToken), async () =>
        {
            disable = tokens.DisableUserAsync(userId, "racer10");
            await WaitUntilARevocationWaitsForTheRefreshAsync(disable);
        });
        await disable!;

        Assert.True(status is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"{(int)status} {body}");
        await AssertNoValidTokenAsync(userId);
    }

    [Fact]
    public async Task A_refresh_token_revoked_while_a_refresh_redeems_it_answers_200_and_ends_the_chain()
    {
        var (client, userId, refreshToken) = await SignedInAsync("race-revoke", "racer11");
        (HttpStatusCode Status, JsonElement Body) refreshed = default;

        using var revoked = await factory.BeforeRevocation.AroundAsync(
            () => RevokeAsync(client, refreshToken), async () => refreshed = await tokens.RefreshAsync(client, refreshToken));

        Assert.True(refreshed.Status == HttpStatusCode.OK, refreshed.Body.ToString());
        Assert.True(revoked.StatusCode == HttpStatusCode.OK, await revoked.Content.ReadAsStringAsync());
        await AssertNoValidTokenAsync(userId);
    }

    [Theory]
    [InlineData("disable")]
    [InlineData("reset")]
    [InlineData("demote")]
    public async Task A_password_grant_that_checked_the_user_before_an_admin_changed_them_keeps_no_working_token(string change)
    {
        var client = await tokens.RegisterCodeClientAsync($"race-password-{change}", scopes: "openid admin", extraGrantTypes: ["password"]);
        var username = $"racer-password-{change}";
        var userId = await tokens.RegisterUserAsync(username, "racer-password-1", null, "admin");
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = username, ["password"] = "racer-password-1", ["scope"] = "openid admin",
        };

        // The grant has checked the user and made its tokens; the admin's change and its revocation run before they are saved.
        var (status, body) = await factory.BeforeSave.AroundAsync(() => tokens.TokenAsync(form, client.ClientId, client.Secret), () => change switch
        {
            "disable" => tokens.DisableUserAsync(userId, username),
            "reset" => tokens.AdminAsync(HttpMethod.Post, $"/admin/users/{userId}/password", new { password = "another-password-2" }),
            _ => tokens.AdminAsync(HttpMethod.Put, $"/admin/users/{userId}", new { roles = Array.Empty<string>() }),
        });

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {body}");
        Assert.Equal(Errors.InvalidGrant, body.GetProperty("error").GetString());
        await AssertNoValidTokenAsync(userId);
    }

    [Theory]
    [InlineData("refresh")]
    [InlineData("code")]
    public async Task A_redemption_that_read_the_admin_role_before_an_admin_removed_it_keeps_no_admin_token(string grant)
    {
        var client = await tokens.RegisterCodeClientAsync($"race-demote-{grant}", scopes: "openid offline_access admin");
        var username = $"racer-demote-{grant}";
        var userId = await tokens.RegisterUserAsync(username, username + "-password", null, "admin");
        var pkce = Pkce.Create();
        var code = await OAuthFlows.CodeFromAsync(await new BrowserSession(factory).SignInAsync(
            OAuthFlows.AuthorizeUrl(client, pkce, "openid offline_access admin"), username, username + "-password"), client);
        Func<Task<(HttpStatusCode Status, JsonElement Body)>> redeem = () => tokens.RedeemCodeAsync(client, code, pkce);
        if (grant == "refresh")
        {
            var (redeemed, first) = await redeem();
            Assert.True(redeemed == HttpStatusCode.OK, first.ToString());
            Assert.Contains("admin", first.Token("scope").Split(' '));
            redeem = () => tokens.RefreshAsync(client, first.Token("refresh_token"));
        }

        // The redemption has read the user (still an admin) and made its tokens; the role goes, and the admin API
        // revokes the user's access tokens, before they are saved.
        var (status, body) = await factory.BeforeSave.AroundAsync(redeem, async () =>
        {
            var (demoted, demotedBody) = await tokens.AdminAsync(HttpMethod.Put, $"/admin/users/{userId}", new { roles = Array.Empty<string>() });
            Assert.True(demoted == HttpStatusCode.OK, demotedBody.ToString());
        });

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {body}");
        Assert.Equal(Errors.InvalidGrant, body.GetProperty("error").GetString());
        await AssertNoValidTokenAsync(userId);
    }

    private async Task<HttpResponseMessage> RevokeAsync(TestClient client, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/revoke")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token, ["token_type_hint"] = "refresh_token" }),
        };
        request.Headers.Authorization = TokenClient.Basic(client.ClientId, client.Secret!);
        return await tokens.Http.SendAsync(request);
    }

    /// <summary>
    /// On PostgreSQL, until the revocation is blocked on the row the held refresh locked (a lock wait shows in
    /// pg_stat_activity). SQLite's single writer orders them whichever comes first, so there is nothing to wait for.
    /// </summary>
    private async Task WaitUntilARevocationWaitsForTheRefreshAsync(Task revocation)
    {
        if (IdentityServerFactory.Provider != IdentityServer.Persistence.DatabaseProvider.PostgreSql)
        {
            return;
        }

        await using var connection = new Npgsql.NpgsqlConnection(factory.ConnectionString);
        await connection.OpenAsync();
        await using var waiting = new Npgsql.NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", connection);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((long)(await waiting.ExecuteScalarAsync())! == 0)
        {
            Assert.False(revocation.IsCompleted, "the revocation finished without waiting for the refresh's commit");
            Assert.True(DateTime.UtcNow < deadline, "no revocation waited for the held refresh");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_refresh_in_flight_when_an_admin_deletes_its_client_gets_invalid_client_and_no_tokens()
    {
        var (client, userId, refreshToken) = await SignedInAsync("race-client-delete", "racer6");

        var (status, body) = await RefreshHeldAtAsync(factory.Hold, client, refreshToken, () => DeleteClientAsync(client.ClientId));

        Assert.True(status == HttpStatusCode.Unauthorized, $"{(int)status} {body}");
        Assert.Equal(Errors.InvalidClient, body.GetProperty("error").GetString());
        await AssertNoValidTokenAsync(userId);
    }

    [Fact]
    public async Task A_refresh_whose_client_is_deleted_just_before_its_tokens_are_saved_gets_invalid_grant_and_saves_nothing()
    {
        var (client, userId, refreshToken) = await SignedInAsync("race-client-delete-late", "racer7");

        // Every token is made; the rows (the redemption and the new tokens, which name the client) are not saved yet.
        var (status, body) = await RefreshHeldAtAsync(factory.BeforeSave, client, refreshToken, () => DeleteClientAsync(client.ClientId));

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {body}");
        Assert.Equal(Errors.InvalidGrant, body.GetProperty("error").GetString());
        await AssertNoValidTokenAsync(userId);
    }

    [Fact]
    public async Task A_password_grant_whose_client_is_deleted_just_before_its_tokens_are_saved_gets_invalid_grant_and_no_tokens()
    {
        var client = await tokens.RegisterCodeClientAsync("race-password-client-delete", extraGrantTypes: ["password"]);
        var userId = await tokens.RegisterUserAsync("racer12", "racer-password-1");
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "racer12", ["password"] = "racer-password-1", ["scope"] = "openid offline_access",
        };

        var (status, body) = await factory.BeforeSave.AroundAsync(
            () => tokens.TokenAsync(form, client.ClientId, client.Secret), () => DeleteClientAsync(client.ClientId));

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {body}");
        Assert.Equal(Errors.InvalidGrant, body.GetProperty("error").GetString());
        await AssertNoValidTokenAsync(userId);
    }

    [Fact]
    public async Task A_refresh_whose_client_is_deleted_just_after_it_authenticated_gets_invalid_client_and_no_tokens()
    {
        var (client, userId, refreshToken) = await SignedInAsync("race-client-delete-early", "racer8");

        // The client has authenticated; the request has not reached the token endpoint's own code yet.
        var (status, body) = await RefreshHeldAtAsync(factory.AfterClientAuthentication, client, refreshToken, () => DeleteClientAsync(client.ClientId));

        Assert.True(status == HttpStatusCode.Unauthorized, $"{(int)status} {body}");
        Assert.Equal(Errors.InvalidClient, body.GetProperty("error").GetString());
        await AssertNoValidTokenAsync(userId);
    }

    [Fact]
    public async Task A_client_credentials_request_whose_client_is_deleted_just_after_it_authenticated_gets_invalid_client()
    {
        var secret = await tokens.RegisterClientAsync(new
        {
            clientId = "race-cc-delete", clientType = "confidential", grantTypes = new[] { "client_credentials" },
        });

        var (status, body) = await factory.AfterClientAuthentication.AroundAsync(
            () => tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, "race-cc-delete", secret),
            () => DeleteClientAsync("race-cc-delete"));

        Assert.True(status == HttpStatusCode.Unauthorized, $"{(int)status} {body}");
        Assert.Equal(Errors.InvalidClient, body.GetProperty("error").GetString());
    }

    private async Task<(TestClient Client, string UserId, string RefreshToken)> SignedInAsync(string clientId, string username)
    {
        var client = await tokens.RegisterCodeClientAsync(clientId);
        var userId = await tokens.RegisterUserAsync(username, username + "-password");
        var first = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, username + "-password");
        return (client, userId, first.Token("refresh_token"));
    }

    private Task<(HttpStatusCode Status, JsonElement Body)> RefreshHeldAtAsync(
        ServerHold hold, TestClient client, string refreshToken, Func<Task> meanwhile) =>
        hold.AroundAsync(() => tokens.RefreshAsync(client, refreshToken), meanwhile);

    private async Task DeleteClientAsync(string clientId)
    {
        var (deleted, body) = await tokens.AdminAsync(HttpMethod.Delete, $"/admin/clients/{clientId}");
        Assert.True(deleted == HttpStatusCode.NoContent, body.ToString());
    }

    private async Task AssertNoValidTokenAsync(string userId)
    {
        using var scope = factory.Services.CreateScope();
        var stored = scope.ServiceProvider.GetRequiredService<IOpenIddictTokenManager>();
        await foreach (var token in stored.FindBySubjectAsync(userId))
        {
            Assert.False(await stored.HasStatusAsync(token, Statuses.Valid), $"token {await stored.GetIdAsync(token)} is still valid");
        }
    }

    private static void AssertOneWinner((HttpStatusCode Status, JsonElement Body)[] results)
    {
        var summary = string.Join(" | ", results.Select(r => $"{(int)r.Status} {r.Body}"));
        var winner = Assert.Single(results, r => r.Status == HttpStatusCode.OK);
        Assert.False(string.IsNullOrEmpty(winner.Body.GetProperty("access_token").GetString()), summary);
        var loser = Assert.Single(results, r => r.Status != HttpStatusCode.OK);
        Assert.True(loser.Status == HttpStatusCode.BadRequest, summary);
        Assert.Equal(Errors.InvalidGrant, loser.Body.GetProperty("error").GetString());
    }

    public sealed class RaceFactory : IdentityServerFactory
    {
        public Rendezvous Rendezvous { get; } = new();

        /// <summary>Just before the token entry is marked as redeemed.</summary>
        public ServerHold Hold { get; } = new();

        /// <summary>Just before the sign-in's token rows are saved.</summary>
        public ServerHold BeforeSave { get; } = new();

        /// <summary>After the client has authenticated, before the token endpoint's own code runs.</summary>
        public ServerHold AfterClientAuthentication { get; } = new();

        /// <summary>A revocation request past its validation, before anything is revoked.</summary>
        public ServerHold BeforeRevocation { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddOpenIddict().AddServer(server =>
                server.AddEventHandler<OpenIddictServerEvents.ProcessSignInContext>(handler => handler
                    .UseInlineHandler(async context =>
                    {
                        if (context.EndpointType == OpenIddictServerEndpointType.Token
                            && (context.Request.IsAuthorizationCodeGrantType() || context.Request.IsRefreshTokenGrantType()
                                || context.Request.IsDeviceCodeGrantType()))
                        {
                            await Rendezvous.ArriveAsync();
                            await Hold.ArriveAsync();
                        }
                    })
                    // Just before the token entry is marked as redeemed: both requests have passed every check.
                    .SetOrder(OpenIddictServerHandlers.RedeemTokenEntry.Descriptor.Order - 1)
                    .SetType(OpenIddictServerHandlerType.Custom))
                .AddEventHandler<OpenIddictServerEvents.ProcessSignInContext>(handler => handler
                    .UseInlineHandler(context => context.EndpointType == OpenIddictServerEndpointType.Token
                        && (context.Request.IsRefreshTokenGrantType() || context.Request.IsPasswordGrantType()
                            || context.Request.IsAuthorizationCodeGrantType()) ? new ValueTask(BeforeSave.ArriveAsync()) : default)
                    .SetOrder(IdentityServer.Connect.TokenWrites.Commit.Descriptor.Order - 1)
                    .SetType(OpenIddictServerHandlerType.Custom))
                .AddEventHandler<OpenIddictServerEvents.HandleTokenRequestContext>(handler => handler
                    .UseInlineHandler(_ => new ValueTask(AfterClientAuthentication.ArriveAsync()))
                    .SetOrder(int.MinValue)
                    .SetType(OpenIddictServerHandlerType.Custom))
                .AddEventHandler<OpenIddictServerEvents.HandleRevocationRequestContext>(handler => handler
                    .UseInlineHandler(_ => new ValueTask(BeforeRevocation.ArriveAsync()))
                    .SetOrder(int.MinValue)
                    .SetType(OpenIddictServerHandlerType.Custom))));
        }
    }
}
