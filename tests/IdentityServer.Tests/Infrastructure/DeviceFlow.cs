using System.Net;
using System.Text.Json;

namespace IdentityServer.Tests.Infrastructure;

/// <summary>The device authorization grant (RFC 8628) as a device and its user at another browser go through it.</summary>
public static class DeviceFlow
{
    public const string DeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";

    public static async Task<TestClient> RegisterDeviceClientAsync(this TokenClient tokens, string clientId, string scopes = "openid profile offline_access")
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

    /// <summary>What the device gets from the device authorization endpoint: its device code and the user's code.</summary>
    public static async Task<JsonElement> AskForDeviceCodeAsync(this TokenClient tokens, TestClient client, string scope = "openid profile offline_access")
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

    /// <summary>One poll of the token endpoint with the device code, as a public client.</summary>
    public static Task<(HttpStatusCode Status, JsonElement Body)> PollAsync(this TokenClient tokens, TestClient client, JsonElement device) =>
        tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = DeviceCodeGrant,
            ["device_code"] = device.GetProperty("device_code").GetString()!,
            ["client_id"] = client.ClientId,
        });

    /// <summary>Follows verification_uri_complete, signs in there and stops at the confirmation.</summary>
    public static async Task SignInAtVerificationPageAsync(BrowserSession browser, JsonElement device, string username, string password)
    {
        var complete = new Uri(device.GetProperty("verification_uri_complete").GetString()!);
        await browser.GoAsync(complete.PathAndQuery);
        Assert.NotNull(browser.Page?.GetElementById("login"));
        await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = username, ["password"] = password });
        Assert.True(browser.Page?.GetElementById("accept") is not null, browser.Page?.Body?.TextContent);
    }

    /// <summary>A user who signs in at verification_uri_complete and allows the device; returns their browser.</summary>
    public static async Task<BrowserSession> ApproveAsync(IdentityServerFactory factory, JsonElement device, string username, string password)
    {
        var browser = new BrowserSession(factory);
        await SignInAtVerificationPageAsync(browser, device, username, password);
        await browser.ClickAsync("accept");
        Assert.True(browser.Page?.GetElementById("device-approved") is not null, browser.Page?.Body?.TextContent);
        return browser;
    }
}
