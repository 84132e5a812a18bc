using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class RefreshTokenTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task A_refresh_token_is_rotated_on_every_use()
    {
        var client = await tokens.RegisterCodeClientAsync("refresh-rotate");
        var userId = await tokens.RegisterUserAsync("rob", "rob-password-1");
        var first = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rob", "rob-password-1");

        var second = await tokens.RefreshAsync(client, first.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.OK, second.Status);
        var third = await tokens.RefreshAsync(client, second.Body.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.OK, third.Status);

        Assert.NotEqual(first.Token("refresh_token"), second.Body.Token("refresh_token"));
        Assert.NotEqual(second.Body.Token("refresh_token"), third.Body.Token("refresh_token"));
        Assert.NotEqual(first.Token("access_token"), second.Body.Token("access_token"));
        var access = await tokens.ValidateAccessTokenAsync(third.Body.Token("access_token"));
        Assert.Equal(userId, access.Subject);
        Assert.Equal(client.ClientId, access.GetClaim("client_id").Value);
    }

    [Fact]
    public async Task A_refresh_after_an_admin_withdraws_a_scope_from_the_client_no_longer_carries_it_or_its_audience()
    {
        await tokens.RegisterScopeAsync("ledger-read", "ledger-api");
        await tokens.RegisterScopeAsync("ledger-write", "ledger-writer-api");
        var client = await tokens.RegisterCodeClientAsync("refresh-scopes", scopes: "openid profile offline_access ledger-read ledger-write");
        await tokens.RegisterUserAsync("rhea", "rhea-password-1");
        var first = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rhea", "rhea-password-1",
            "openid profile offline_access ledger-read ledger-write");
        Assert.Contains("ledger-writer-api", (await tokens.ValidateAccessTokenAsync(first.Token("access_token"), "ledger-writer-api")).Audiences);

        var (updated, updateBody) = await tokens.AdminAsync(HttpMethod.Put, $"/admin/clients/{client.ClientId}",
            new { scopes = new[] { "openid", "profile", "offline_access", "ledger-read" } });
        Assert.True(updated == HttpStatusCode.OK, updateBody.ToString());
        var (status, body) = await tokens.RefreshAsync(client, first.Token("refresh_token"));

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var access = await tokens.ValidateAccessTokenAsync(body.Token("access_token"), "ledger-api");
        Assert.Equal("openid profile offline_access ledger-read", access.GetClaim("scope").Value);
        Assert.DoesNotContain("ledger-writer-api", access.Audiences);
    }

    [Fact]
    public async Task A_refresh_asking_for_fewer_scopes_gets_an_access_token_for_only_their_audiences_and_keeps_the_rest_for_later()
    {
        await tokens.RegisterScopeAsync("atlas-read", "atlas-api");
        await tokens.RegisterScopeAsync("atlas-admin", "atlas-admin-api");
        var client = await tokens.RegisterCodeClientAsync("refresh-narrowed", scopes: "openid offline_access atlas-read atlas-admin");
        await tokens.RegisterUserAsync("nora", "nora-password-1");
        var first = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "nora", "nora-password-1",
            "openid offline_access atlas-read atlas-admin");

        // As oidc-client-ts does with refreshTokenAllowedScope: the same grant, a narrower access token.
        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = first.Token("refresh_token"), ["scope"] = "openid atlas-read",
        }, client.ClientId, client.Secret);

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var narrowed = await tokens.ValidateAccessTokenAsync(body.Token("access_token"), "atlas-api");
        Assert.Equal("openid atlas-read", narrowed.GetClaim("scope").Value);
        Assert.DoesNotContain("atlas-admin-api", narrowed.Audiences);

        var (later, laterBody) = await tokens.RefreshAsync(client, body.Token("refresh_token"));
        Assert.True(later == HttpStatusCode.OK, laterBody.ToString());
        Assert.Contains("atlas-admin-api", (await tokens.ValidateAccessTokenAsync(laterBody.Token("access_token"), "atlas-admin-api")).Audiences);
    }

    [Fact]
    public async Task A_refresh_narrowed_to_api_scopes_alone_gets_no_id_token_and_a_later_full_refresh_gets_one_again()
    {
        await tokens.RegisterScopeAsync("tide-read", "tide-api");
        var client = await tokens.RegisterCodeClientAsync("refresh-api-only", scopes: "openid offline_access tide-read");
        await tokens.RegisterUserAsync("tilda", "tilda-password-1");
        var first = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "tilda", "tilda-password-1", "openid offline_access tide-read");

        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = first.Token("refresh_token"), ["scope"] = "tide-read",
        }, client.ClientId, client.Secret);
        var (later, laterBody) = await tokens.RefreshAsync(client, body.Token("refresh_token"));

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Null(body.OptionalToken("id_token"));
        Assert.Equal("tide-read", (await tokens.ValidateAccessTokenAsync(body.Token("access_token"), "tide-api")).GetClaim("scope").Value);
        Assert.True(later == HttpStatusCode.OK, laterBody.ToString());
        Assert.NotNull(laterBody.OptionalToken("id_token"));
        var (empty, emptyBody) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = laterBody.Token("refresh_token"), ["scope"] = "",
        }, client.ClientId, client.Secret);
        Assert.True(empty == HttpStatusCode.OK, emptyBody.ToString());
        Assert.NotNull(emptyBody.OptionalToken("id_token"));   // an empty scope asks for nothing less (RFC 6749 3.1)
    }

    [Fact]
    public async Task A_refresh_narrowed_to_leave_out_email_gets_tokens_without_the_email_and_a_later_full_refresh_has_it_again()
    {
        await tokens.RegisterScopeAsync("kelp-read", "kelp-api");
        var client = await tokens.RegisterCodeClientAsync("refresh-no-email", scopes: "openid email offline_access kelp-read");
        await tokens.RegisterUserAsync("keel", "keel-password-1", "keel@example.test");
        var first = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "keel", "keel-password-1", "openid email offline_access kelp-read");

        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = first.Token("refresh_token"), ["scope"] = "openid kelp-read",
        }, client.ClientId, client.Secret);
        var (later, laterBody) = await tokens.RefreshAsync(client, body.Token("refresh_token"));

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var narrowed = await tokens.ValidateAccessTokenAsync(body.Token("access_token"), "kelp-api");
        Assert.False(narrowed.TryGetClaim("email", out _));
        Assert.False(narrowed.TryGetClaim("email_verified", out _));
        var narrowedId = await tokens.ValidateAsync(body.Token("id_token"), audience: client.ClientId, tokenType: null);
        Assert.False(narrowedId.Claims.ContainsKey("email"));
        Assert.True(later == HttpStatusCode.OK, laterBody.ToString());
        Assert.Equal("keel@example.test", (await tokens.ValidateAccessTokenAsync(laterBody.Token("access_token"), "kelp-api")).GetClaim("email").Value);
    }

    [Fact]
    public async Task A_refresh_asking_for_a_scope_beyond_the_grant_gets_invalid_scope()
    {
        await tokens.RegisterScopeAsync("vault-read", "vault-api");
        var client = await tokens.RegisterCodeClientAsync("refresh-greedy", scopes: "openid offline_access vault-read");
        await tokens.RegisterUserAsync("greta", "greta-password-1");
        var first = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "greta", "greta-password-1", "openid offline_access");

        var response = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = first.Token("refresh_token"), ["scope"] = "openid vault-read",
        }, client.ClientId, client.Secret);

        // RFC 6749 5.2: a scope that "exceeds the scope granted by the resource owner".
        ProtocolHelpers.AssertOAuthError(response, HttpStatusCode.BadRequest, "invalid_scope");
    }

    [Fact]
    public async Task A_reused_refresh_token_fails_and_revokes_its_chain()
    {
        var client = await tokens.RegisterCodeClientAsync("refresh-reuse");
        await tokens.RegisterUserAsync("ruth", "ruth-password-1");
        var first = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "ruth", "ruth-password-1");
        var second = await tokens.RefreshAsync(client, first.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.OK, second.Status);

        var replay = await tokens.RefreshAsync(client, first.Token("refresh_token"));
        var newest = await tokens.RefreshAsync(client, second.Body.Token("refresh_token"));

        ProtocolHelpers.AssertOAuthError(replay, HttpStatusCode.BadRequest, "invalid_grant");
        ProtocolHelpers.AssertOAuthError(newest, HttpStatusCode.BadRequest, "invalid_grant");
        var introspection = await tokens.IntrospectAsync(second.Body.Token("access_token"), client.ClientId, client.Secret!);
        Assert.False(introspection.GetProperty("active").GetBoolean());
    }

    [Fact]
    public async Task A_replay_of_one_chain_leaves_another_login_of_the_same_user_working()
    {
        // Each login is a grant of its own; a stolen token from one device must not sign the user out everywhere.
        var client = await tokens.RegisterCodeClientAsync("refresh-two-chains");
        await tokens.RegisterUserAsync("rosa", "rosa-password-1");
        var laptop = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rosa", "rosa-password-1");
        var phone = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rosa", "rosa-password-1");
        var laptopNext = await tokens.RefreshAsync(client, laptop.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.OK, laptopNext.Status);

        ProtocolHelpers.AssertOAuthError(await tokens.RefreshAsync(client, laptop.Token("refresh_token")), HttpStatusCode.BadRequest, "invalid_grant");

        Assert.Equal(HttpStatusCode.OK, (await tokens.RefreshAsync(client, phone.Token("refresh_token"))).Status);
    }

    [Fact]
    public async Task No_refresh_token_is_issued_without_offline_access()
    {
        var client = await tokens.RegisterCodeClientAsync("refresh-none");
        await tokens.RegisterUserAsync("rick", "rick-password-1");

        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "rick", "rick-password-1", scope: "openid profile");

        Assert.False(string.IsNullOrEmpty(body.OptionalToken("access_token")));
        Assert.Null(body.OptionalToken("refresh_token"));
    }

    [Fact]
    public async Task After_the_access_token_expires_it_no_longer_validates_but_a_refresh_gets_a_new_one()
    {
        var client = await tokens.RegisterCodeClientAsync("refresh-expiry");
        var userId = await tokens.RegisterUserAsync("reed", "reed-password-1");
        var first = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "reed", "reed-password-1");
        await tokens.ValidateAccessTokenAsync(first.Token("access_token"));

        factory.Time.Advance(TimeSpan.FromMinutes(6));

        var old = await tokens.ValidateAsync(first.Token("access_token"), audience: null, tokenType: "at+jwt");
        Assert.False(old.IsValid);
        Assert.False((await tokens.IntrospectAsync(first.Token("access_token"), client.ClientId, client.Secret!)).GetProperty("active").GetBoolean());
        var refreshed = await tokens.RefreshAsync(client, first.Token("refresh_token"));
        Assert.Equal(HttpStatusCode.OK, refreshed.Status);
        Assert.Equal(userId, (await tokens.ValidateAccessTokenAsync(refreshed.Body.Token("access_token"))).Subject);
    }

    [Fact]
    public async Task A_refresh_token_issued_to_one_client_is_refused_to_another()
    {
        var owner = await tokens.RegisterCodeClientAsync("refresh-owner");
        var other = await tokens.RegisterCodeClientAsync("refresh-thief");
        await tokens.RegisterUserAsync("rory", "rory-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), owner, "rory", "rory-password-1");

        var stolen = await tokens.RefreshAsync(other, body.Token("refresh_token"));

        ProtocolHelpers.AssertOAuthError(stolen, HttpStatusCode.BadRequest, "invalid_grant");
    }
    [Fact]
    public async Task A_client_not_allowed_a_grant_gets_unauthorized_client_whatever_token_it_sends()
    {
        // RFC 6749 5.2: unauthorized_client is about the client and its grant type, whether the token is good or not.
        var owner = await tokens.RegisterCodeClientAsync("grantless-owner");
        var secret = await tokens.RegisterClientAsync(new { clientId = "grantless-machine", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });
        await tokens.RegisterUserAsync("gwen", "gwen-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), owner, "gwen", "gwen-password-1");

        foreach (var form in new Dictionary<string, string>[]
        {
            new() { ["grant_type"] = "refresh_token", ["refresh_token"] = body.Token("refresh_token") },
            new() { ["grant_type"] = "refresh_token", ["refresh_token"] = "not-a-token" },
            new() { ["grant_type"] = "authorization_code", ["code"] = "not-a-code", ["redirect_uri"] = owner.RedirectUri, ["code_verifier"] = new string('a', 43) },
        })
        {
            ProtocolHelpers.AssertOAuthError(await tokens.TokenAsync(form, "grantless-machine", secret), HttpStatusCode.BadRequest, "unauthorized_client");
        }

        var wrongSecret = await tokens.TokenAsync(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = "not-a-token" }, "grantless-machine", "wrong");
        ProtocolHelpers.AssertOAuthError(wrongSecret, HttpStatusCode.Unauthorized, "invalid_client");
    }
}
