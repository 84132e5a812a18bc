using System.Net;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// RFC 8628: a device without a browser (a TV, a command-line tool) asks for a code, its user approves it on another
/// device's browser, and the device, polling the token endpoint, gets its tokens.
/// </summary>
public sealed class DeviceAuthorizationTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private const string DeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Discovery_advertises_the_device_authorization_endpoint_and_grant()
    {
        using var response = await tokens.Http.GetAsync("/.well-known/openid-configuration");
        var discovery = await TokenClient.ReadJsonAsync(response);

        Assert.EndsWith("/connect/device", discovery.GetProperty("device_authorization_endpoint").GetString(), StringComparison.Ordinal);
        Assert.Contains(DeviceCodeGrant, discovery.GetProperty("grant_types_supported").EnumerateArray().Select(g => g.GetString()));
    }

    [Fact]
    public async Task A_user_who_approves_the_code_in_a_browser_gives_the_device_access_id_and_refresh_tokens()
    {
        var client = await RegisterDeviceClientAsync("tv-app");
        var userId = await tokens.RegisterUserAsync("dora", "dora-password-1");
        var device = await AskForCodeAsync(client);

        var (pending, pendingBody) = await PollAsync(client, device);
        Assert.Equal(HttpStatusCode.BadRequest, pending);
        Assert.Equal("authorization_pending", pendingBody.GetProperty("error").GetString());

        var browser = new BrowserSession(factory);
        await SignInAtVerificationPageAsync(browser, device, "dora", "dora-password-1");
        Assert.Equal("The tv-app app", browser.Page!.GetElementById("client-name")!.TextContent);
        Assert.Equal(device.GetProperty("user_code").GetString(), browser.Page.GetElementById("user-code")!.TextContent);
        Assert.Contains("offline_access", browser.Page.QuerySelectorAll("#scopes li").Select(li => li.GetAttribute("data-scope")));
        await browser.ClickAsync("accept");
        Assert.NotNull(browser.Page.GetElementById("device-approved"));

        var (status, body) = await PollAsync(client, device);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var access = await tokens.ValidateAccessTokenAsync(body.Token("access_token"));
        Assert.Equal(userId, access.Subject);
        Assert.Equal(client.ClientId, access.GetClaim("client_id").Value);
        Assert.False(string.IsNullOrEmpty(body.Token("id_token")));

        var (refreshed, refreshedBody) = await tokens.RefreshAsync(client, body.Token("refresh_token"));
        Assert.True(refreshed == HttpStatusCode.OK, refreshedBody.ToString());

        // The device code works once.
        var (again, againBody) = await PollAsync(client, device);
        Assert.Equal(HttpStatusCode.BadRequest, again);
        Assert.Equal("invalid_grant", againBody.GetProperty("error").GetString());
    }

    private async Task<TestClient> RegisterDeviceClientAsync(string clientId, string scopes = "openid profile offline_access")
    {
        await tokens.RegisterClientAsync(new
        {
            clientId,
            displayName = $"The {clientId} app",
            clientType = "public",
            grantTypes = new[] { DeviceCodeGrant },
            scopes = scopes.Split(' '),
        });
        return new TestClient(clientId, null, string.Empty, string.Empty);
    }

    private async Task<JsonElement> AskForCodeAsync(TestClient client, string scope = "openid profile offline_access")
    {
        using var response = await tokens.Http.PostAsync("/connect/device", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = client.ClientId,
            ["scope"] = scope,
        }));
        var body = await TokenClient.ReadJsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body;
    }

    private Task<(HttpStatusCode Status, JsonElement Body)> PollAsync(TestClient client, JsonElement device) =>
        tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = DeviceCodeGrant,
            ["device_code"] = device.GetProperty("device_code").GetString()!,
            ["client_id"] = client.ClientId,
        });

    private static async Task SignInAtVerificationPageAsync(BrowserSession browser, JsonElement device, string username, string password)
    {
        var complete = new Uri(device.GetProperty("verification_uri_complete").GetString()!);
        await browser.GoAsync(complete.PathAndQuery);
        Assert.NotNull(browser.Page?.GetElementById("login"));
        await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = username, ["password"] = password });
        Assert.True(browser.Page?.GetElementById("accept") is not null, browser.Page?.Body?.TextContent);
    }
}
