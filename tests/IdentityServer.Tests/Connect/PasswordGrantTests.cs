using System.Net;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class PasswordGrantTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private Task<(HttpStatusCode Status, JsonElement Body)> PasswordAsync(TestClient client, string username, string password, string scope = "openid profile offline_access") =>
        tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["username"] = username,
            ["password"] = password,
            ["scope"] = scope,
        }, client.ClientId, client.Secret);

    [Fact]
    public async Task A_client_not_allowed_the_password_grant_is_refused()
    {
        var client = await tokens.RegisterCodeClientAsync("password-forbidden");
        await tokens.RegisterUserAsync("paul", "paul-password-1");

        var (status, body) = await PasswordAsync(client, "paul", "paul-password-1");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("unauthorized_client", body.Error());
        Assert.Null(body.OptionalToken("access_token"));
    }

    [Fact]
    public async Task A_client_allowed_the_password_grant_gets_tokens_for_the_user()
    {
        var client = await tokens.RegisterCodeClientAsync("password-allowed", extraGrantTypes: ["password"]);
        var userId = await tokens.RegisterUserAsync("pete", "pete-password-1");

        var (status, body) = await PasswordAsync(client, "pete", "pete-password-1");

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var access = await tokens.ValidateAccessTokenAsync(body.Token("access_token"));
        Assert.Equal(userId, access.Subject);
        Assert.Equal("password-allowed", access.GetClaim("client_id").Value);
        Assert.Equal(HttpStatusCode.OK, (await tokens.RefreshAsync(client, body.Token("refresh_token"))).Status);
    }

    [Fact]
    public async Task A_password_grant_without_a_scope_gets_every_scope_the_client_may_use()
    {
        // RFC 6749 3.3: without a scope parameter the server applies a default (Duende: the client's allowed scopes).
        await tokens.RegisterScopeAsync("password-default-api", "password-default-resource");
        var client = await tokens.RegisterCodeClientAsync("password-default", scopes: "openid profile password-default-api", extraGrantTypes: ["password"]);
        await tokens.RegisterUserAsync("prue", "prue-password-1");

        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["username"] = "prue",
            ["password"] = "prue-password-1",
        }, client.ClientId, client.Secret);

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var access = await tokens.ValidateAccessTokenAsync(body.Token("access_token"), "password-default-resource");
        Assert.Equal(
            ["offline_access", "openid", "password-default-api", "profile"],
            access.GetClaim("scope").Value.Split(' ').Order(StringComparer.Ordinal));
        Assert.NotNull(body.OptionalToken("refresh_token"));
        Assert.NotNull(body.OptionalToken("id_token"));
    }

    [Fact]
    public async Task An_admin_gets_the_admin_scope_from_the_password_grant_only_by_asking_for_it()
    {
        var client = await tokens.RegisterCodeClientAsync("password-admin", scopes: "openid admin", extraGrantTypes: ["password"]);

        async Task<string[]> ScopesAsync(string? scope)
        {
            var form = new Dictionary<string, string>
            {
                ["grant_type"] = "password", ["username"] = IdentityServerFactory.AdminUsername, ["password"] = IdentityServerFactory.AdminPassword,
            };
            if (scope is not null)
            {
                form["scope"] = scope;
            }

            var (status, body) = await tokens.TokenAsync(form, client.ClientId, client.Secret);
            Assert.True(status == HttpStatusCode.OK, body.ToString());
            return new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(body.Token("access_token")).GetClaim("scope").Value.Split(' ');
        }

        Assert.DoesNotContain("admin", await ScopesAsync(scope: null));
        Assert.Contains("admin", await ScopesAsync("openid admin"));
    }

    [Fact]
    public async Task A_wrong_password_gets_invalid_grant()
    {
        var client = await tokens.RegisterCodeClientAsync("password-wrong", extraGrantTypes: ["password"]);
        await tokens.RegisterUserAsync("phil", "phil-password-1");

        var wrong = await PasswordAsync(client, "phil", "not-phils-password");
        var unknown = await PasswordAsync(client, "nobody-at-all", "not-phils-password");

        ProtocolHelpers.AssertOAuthError(wrong, HttpStatusCode.BadRequest, "invalid_grant");
        ProtocolHelpers.AssertOAuthError(unknown, HttpStatusCode.BadRequest, "invalid_grant");
        Assert.Equal(wrong.Body.GetProperty("error_description").GetString(), unknown.Body.GetProperty("error_description").GetString());
    }

    [Fact]
    public async Task A_disabled_user_gets_invalid_grant_from_the_password_grant()
    {
        var client = await tokens.RegisterCodeClientAsync("password-disabled", extraGrantTypes: ["password"]);
        var userId = await tokens.RegisterUserAsync("piper", "piper-password-1");
        await tokens.DisableUserAsync(userId, "piper");

        ProtocolHelpers.AssertOAuthError(await PasswordAsync(client, "piper", "piper-password-1"), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task A_password_grant_refresh_token_stops_working_after_a_password_reset()
    {
        var client = await tokens.RegisterCodeClientAsync("password-reset", extraGrantTypes: ["password"]);
        var userId = await tokens.RegisterUserAsync("polly", "polly-password-1");
        var (_, body) = await PasswordAsync(client, "polly", "polly-password-1");

        await tokens.ResetPasswordAsync(userId, "polly-new-password-1");

        ProtocolHelpers.AssertOAuthError(await tokens.RefreshAsync(client, body.Token("refresh_token")), HttpStatusCode.BadRequest, "invalid_grant");
    }
}
