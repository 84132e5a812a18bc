using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;

namespace IdentityServer.Tests.Infrastructure;

/// <summary>A registered client as the tests use it.</summary>
public sealed record TestClient(string ClientId, string? Secret, string RedirectUri, string PostLogoutRedirectUri);

/// <summary>The authorization code flow as a relying party and a person at a browser go through it.</summary>
public static class OAuthFlows
{
    public static async Task<TestClient> RegisterCodeClientAsync(
        this TokenClient tokens, string clientId, bool isPublic = false, string consentType = "implicit",
        string scopes = "openid profile email roles offline_access", IEnumerable<string>? extraGrantTypes = null,
        string? backChannelLogoutUri = null)
    {
        var redirectUri = $"http://127.0.0.1:7000/{clientId}/callback";
        var postLogout = $"http://127.0.0.1:7000/{clientId}/signed-out";
        var secret = await tokens.RegisterClientAsync(new
        {
            clientId,
            displayName = $"The {clientId} app",
            clientType = isPublic ? "public" : "confidential",
            redirectUris = new[] { redirectUri },
            postLogoutRedirectUris = new[] { postLogout },
            grantTypes = new[] { "authorization_code", "refresh_token" }.Concat(extraGrantTypes ?? []).ToArray(),
            scopes = scopes.Split(' '),
            consentType,
            backChannelLogoutUri,
        });
        return new TestClient(clientId, secret, redirectUri, postLogout);
    }

    public static string AuthorizeUrl(TestClient client, Pkce? pkce, string? scope = "openid profile email offline_access",
        string? state = "xyz", string? nonce = "n-0S6", IDictionary<string, string>? extra = null)
    {
        var parameters = new Dictionary<string, string?>
        {
            ["client_id"] = client.ClientId,
            ["response_type"] = "code",
            ["redirect_uri"] = client.RedirectUri,
            ["scope"] = scope,
            ["state"] = state,
            ["nonce"] = nonce,
        };
        if (pkce is not null)
        {
            parameters["code_challenge"] = pkce.Challenge;
            parameters["code_challenge_method"] = "S256";
        }

        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            parameters[key] = value;
        }

        return QueryHelpers.AddQueryString("/connect/authorize", parameters.Where(p => p.Value is not null));
    }

    /// <summary>Starts at the authorization endpoint, signs in on the login page and returns what the client receives.</summary>
    public static async Task<HttpResponseMessage> SignInAsync(this BrowserSession browser, string authorizeUrl, string username, string password)
    {
        var response = await browser.GoAsync(authorizeUrl);
        if (browser.Page?.GetElementById("login") is null || response.Headers.Location is not null)
        {
            return response;
        }

        return await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = username, ["password"] = password });
    }

    public static async Task<string> CodeFromAsync(HttpResponseMessage response, TestClient client, string? state = "xyz")
    {
        Assert.True(response.StatusCode == HttpStatusCode.Redirect,
            $"expected a redirect to the client, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.StartsWith(client.RedirectUri, response.Headers.Location!.ToString(), StringComparison.Ordinal);
        var parameters = BrowserSession.CallbackParameters(response);
        Assert.False(parameters.ContainsKey("error"), $"authorization error: {string.Join(", ", parameters)}");
        Assert.Equal(state, parameters.GetValueOrDefault("state"));
        return parameters["code"];
    }

    public static Task<(HttpStatusCode Status, JsonElement Body)> RedeemCodeAsync(
        this TokenClient tokens, TestClient client, string code, Pkce? pkce, string? scope = null)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = client.RedirectUri,
        };
        if (scope is not null)
        {
            form["scope"] = scope;
        }

        if (pkce is not null)
        {
            form["code_verifier"] = pkce.Verifier;
        }

        if (client.Secret is null)
        {
            form["client_id"] = client.ClientId;
            return tokens.TokenAsync(form);
        }

        return tokens.TokenAsync(form, client.ClientId, client.Secret);
    }

    public static Task<(HttpStatusCode Status, JsonElement Body)> RefreshAsync(this TokenClient tokens, TestClient client, string refreshToken)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken };
        if (client.Secret is null)
        {
            form["client_id"] = client.ClientId;
            return tokens.TokenAsync(form);
        }

        return tokens.TokenAsync(form, client.ClientId, client.Secret);
    }

    /// <summary>A new code client and a new user signed in through it: the client and the user's first refresh token.</summary>
    public static async Task<(TestClient Client, string RefreshToken)> SignedInUserAsync(
        this TokenClient tokens, IdentityServerFactory factory, string clientId, string username)
    {
        var client = await tokens.RegisterCodeClientAsync(clientId);
        var password = username + "-password";
        await tokens.RegisterUserAsync(username, password);
        var first = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, username, password);
        return (client, first.GetProperty("refresh_token").GetString()!);
    }

    /// <summary>The whole flow for a user who exists: authorize, log in, redeem the code; returns the token response.</summary>
    public static async Task<JsonElement> LogInAndRedeemAsync(
        this TokenClient tokens, BrowserSession browser, TestClient client, string username, string password,
        string scope = "openid profile email offline_access")
    {
        var pkce = Pkce.Create();
        var response = await browser.SignInAsync(AuthorizeUrl(client, pkce, scope), username, password);
        var code = await CodeFromAsync(response, client);
        var (status, body) = await tokens.RedeemCodeAsync(client, code, pkce);
        Assert.True(status == HttpStatusCode.OK, $"code redemption failed: {status} {body}");
        return body;
    }
}
