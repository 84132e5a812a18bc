using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class UserInfoTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> UserInfoAsync(string? accessToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/connect/userinfo");
        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }

        var response = await tokens.Http.SendAsync(request);
        return (response.StatusCode, await TokenClient.ReadJsonAsync(response), response);
    }

    [Fact]
    public async Task With_profile_and_email_the_user_sees_sub_names_and_email()
    {
        var client = await tokens.RegisterCodeClientAsync("userinfo-full");
        var userId = await tokens.RegisterUserAsync("ursula", "ursula-password-1", "ursula@example.test");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "ursula", "ursula-password-1", "openid profile email");

        var (status, claims, _) = await UserInfoAsync(body.Token("access_token"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(userId, claims.GetProperty("sub").GetString());
        Assert.Equal("ursula", claims.GetProperty("name").GetString());
        Assert.Equal("ursula", claims.GetProperty("preferred_username").GetString());
        Assert.Equal("ursula@example.test", claims.GetProperty("email").GetString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("reader")]
    [InlineData("reader writer")]
    public async Task With_roles_the_role_claim_has_the_same_shape_as_in_the_id_token(string roleList)
    {
        var roles = roleList.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var client = await tokens.RegisterCodeClientAsync($"userinfo-roles-{roles.Length}", scopes: "openid roles");
        var username = $"rolf{roles.Length}";
        await tokens.RegisterUserAsync(username, "rolf-password-1", null, roles);
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, "rolf-password-1", "openid roles");

        var (status, claims, _) = await UserInfoAsync(body.Token("access_token"));

        Assert.Equal(HttpStatusCode.OK, status);
        var idToken = JwtPayload(body.Token("id_token"));
        Assert.Equal(idToken.TryGetProperty("role", out var inIdToken), claims.TryGetProperty("role", out var inUserInfo));
        if (roles.Length > 0)
        {
            Assert.Equal(inIdToken.ValueKind, inUserInfo.ValueKind);
            Assert.Equal(Values(inIdToken).Order(), Values(inUserInfo).Order());   // in no particular order
        }
    }

    private static IEnumerable<string?> Values(JsonElement claim) =>
        claim.ValueKind == JsonValueKind.Array ? claim.EnumerateArray().Select(v => v.GetString()) : [claim.GetString()];

    private static JsonElement JwtPayload(string jwt) =>
        JsonDocument.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(jwt.Split(".")[1])).RootElement;

    [Fact]
    public async Task With_openid_alone_the_user_sees_only_sub()
    {
        var client = await tokens.RegisterCodeClientAsync("userinfo-openid");
        var userId = await tokens.RegisterUserAsync("victor", "victor-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "victor", "victor-password-1", "openid");

        var (status, claims, _) = await UserInfoAsync(body.Token("access_token"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(userId, claims.GetProperty("sub").GetString());
        Assert.False(claims.TryGetProperty("name", out _));
        Assert.False(claims.TryGetProperty("preferred_username", out _));
        Assert.False(claims.TryGetProperty("email", out _));
    }

    [Fact]
    public async Task An_access_token_granted_without_openid_gets_403_insufficient_scope()
    {
        // OpenID Connect Core 5.3: userinfo answers tokens of OpenID Connect requests; an API-only token is not one.
        await tokens.RegisterScopeAsync("userinfo-api-only", "userinfo-api");
        var client = await tokens.RegisterCodeClientAsync("userinfo-no-openid", scopes: "userinfo-api-only");
        await tokens.RegisterUserAsync("yann", "yann-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "yann", "yann-password-1", "userinfo-api-only");

        var (status, problem, response) = await UserInfoAsync(body.Token("access_token"));

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains(response.Headers.WwwAuthenticate, header => header.Scheme == "Bearer" && header.Parameter!.Contains("insufficient_scope", StringComparison.Ordinal));
        // The body says it too, for client libraries (OpenIddict's) that read a JSON body before the header.
        Assert.Equal("insufficient_scope", problem.GetProperty("error").GetString());
        Assert.Equal("The access token was not granted the openid scope.", problem.GetProperty("error_description").GetString());
    }

    [Fact]
    public async Task With_profile_but_not_email_the_email_stays_hidden()
    {
        var client = await tokens.RegisterCodeClientAsync("userinfo-profile");
        await tokens.RegisterUserAsync("walter", "walter-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "walter", "walter-password-1", "openid profile");

        var (_, claims, _) = await UserInfoAsync(body.Token("access_token"));

        Assert.Equal("walter", claims.GetProperty("preferred_username").GetString());
        Assert.False(claims.TryGetProperty("email", out _));
    }

    [Fact]
    public async Task Without_a_token_userinfo_answers_401()
    {
        var (status, _, response) = await UserInfoAsync(accessToken: null);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains(response.Headers.WwwAuthenticate, header => header.Scheme == "Bearer");
    }

    [Fact]
    public async Task A_forged_or_expired_token_gets_401()
    {
        var client = await tokens.RegisterCodeClientAsync("userinfo-expired");
        await tokens.RegisterUserAsync("xanthe", "xanthe-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "xanthe", "xanthe-password-1", "openid");
        var accessToken = body.Token("access_token");

        var forged = await UserInfoAsync(accessToken[..^4] + "AAAA");
        factory.Time.Advance(TimeSpan.FromMinutes(6));
        var expired = await UserInfoAsync(accessToken);

        Assert.Equal(HttpStatusCode.Unauthorized, forged.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, expired.Status);
        Assert.Equal("invalid_token", forged.Body.GetProperty("error").GetString());
        Assert.Equal("invalid_token", expired.Body.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("application/json, application/jwt", "application/json")]
    [InlineData("application/problem+json", "application/problem+json")]
    public async Task A_refused_token_is_answered_in_json_a_browser_library_reads_unless_problem_json_is_asked_for(string accept, string answered)
    {
        // oidc-client-ts sends the first Accept and refuses any other type of body, even with a 401.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/connect/userinfo");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-a-token");
        request.Headers.TryAddWithoutValidation("Accept", accept);

        using var response = await tokens.Http.SendAsync(request);
        var body = await TokenClient.ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(answered, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("invalid_token", body.GetProperty("error").GetString());
        Assert.Equal(401, body.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task A_client_credentials_token_has_no_user_and_gets_401()
    {
        var secret = await tokens.RegisterClientAsync(new { clientId = "userinfo-machine", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });
        var accessToken = await tokens.ClientCredentialsTokenAsync("userinfo-machine", secret!, "");

        var (status, _, _) = await UserInfoAsync(accessToken);

        Assert.True(status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.BadRequest, $"got {(int)status}");
    }

    [Fact]
    public async Task A_disabled_user_gets_401_at_userinfo()
    {
        var client = await tokens.RegisterCodeClientAsync("userinfo-disabled");
        var userId = await tokens.RegisterUserAsync("yvonne", "yvonne-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "yvonne", "yvonne-password-1", "openid");

        await tokens.DisableUserAsync(userId, "yvonne");

        Assert.Equal(HttpStatusCode.Unauthorized, (await UserInfoAsync(body.Token("access_token"))).Status);
    }
    [Fact]
    public async Task A_post_with_the_token_in_the_header_and_no_body_gets_the_claims()
    {
        // RFC 6750 2.1: the header works whatever the method; OIDC Core 5.3.1 allows POST. HttpClient.PostAsync(url, null)
        // sends no Content-Type, and a JSON-posting client sends one OpenIddict cannot read as a form.
        var client = await tokens.RegisterCodeClientAsync("userinfo-post");
        var userId = await tokens.RegisterUserAsync("posty", "posty-password-1");
        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "posty", "posty-password-1", "openid");

        foreach (var content in new HttpContent?[] { null, new StringContent("{}", System.Text.Encoding.UTF8, "application/json") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/userinfo") { Content = content };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", body.Token("access_token"));
            var response = await tokens.Http.SendAsync(request);
            var claims = await TokenClient.ReadJsonAsync(response);

            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{content?.Headers.ContentType}: {(int)response.StatusCode} {claims}");
            Assert.Equal(userId, claims.GetProperty("sub").GetString());
        }

        // A multipart form is still one OpenIddict does not read: refused, as before, rather than read by nobody.
        using var multipart = new HttpRequestMessage(HttpMethod.Post, "/connect/userinfo")
        {
            Content = new MultipartFormDataContent { { new StringContent("x"), "unrelated" } },
        };
        multipart.Headers.Authorization = new AuthenticationHeaderValue("Bearer", body.Token("access_token"));
        Assert.Equal(HttpStatusCode.BadRequest, (await tokens.Http.SendAsync(multipart)).StatusCode);
    }
}
