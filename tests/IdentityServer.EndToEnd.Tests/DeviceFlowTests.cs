using System.Net;
using System.Text.Json;
using IdentityServer.EndToEnd.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace IdentityServer.EndToEnd.Tests;

/// <summary>A command-line tool signing its user in with the device authorization grant (RFC 8628), approved in Chromium.</summary>
[Collection(DeploymentCollection.Name)]
public sealed class DeviceFlowTests(Deployment deployment) : BrowserTests(deployment.NewBrowserContextAsync)
{
    private const string DeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";

    [Fact]
    public async Task A_user_types_the_code_of_a_command_line_tool_in_the_browser_and_the_tool_gets_its_tokens()
    {
        var clientId = "cli-" + Guid.NewGuid().ToString("N")[..8];
        await deployment.CreateClientAsync(new
        {
            clientId,
            displayName = "Northwind CLI",
            clientType = "public",
            grantTypes = new[] { DeviceCodeGrant },
            scopes = new[] { "openid", "profile", "offline_access", Deployment.ApiScope },
        });
        var username = "device-" + Guid.NewGuid().ToString("N")[..8];
        await deployment.CreateUserAsync(username, "Correct-horse-9");

        // The tool asks for a code and shows the user where to enter it.
        var device = await PostAsync("/connect/device", new() { ["client_id"] = clientId, ["scope"] = $"openid profile offline_access {Deployment.ApiScope}" });
        Assert.Equal(HttpStatusCode.OK, device.Status);
        var userCode = device.Body.GetProperty("user_code").GetString()!;

        // The user, in a browser: signs in, types the code, checks the app and the code, allows it.
        await Page.GotoAsync(device.Body.GetProperty("verification_uri").GetString()!);
        await Page.FillAsync("input#username", username);
        await Page.FillAsync("input#password", "Correct-horse-9");
        await Page.ClickAsync("button#login");
        await Page.FillAsync("input#user-code-input", userCode);
        await Page.ClickAsync("button#verify");
        await Expect(Page.Locator("#client-name")).ToHaveTextAsync("Northwind CLI");
        await Expect(Page.Locator("#user-code")).ToHaveTextAsync(userCode);
        await Expect(Page.Locator($"#scopes li[data-scope={Deployment.ApiScope}]")).ToContainTextAsync(Deployment.ApiScopeDisplayName);
        await Page.ScreenshotAsync(new() { Path = Path.Combine(Deployment.ScreenshotDirectory, "device-confirm.png"), FullPage = true });
        await Page.ClickAsync("button#accept");
        await Expect(Page.Locator("#device-approved")).ToBeVisibleAsync();

        // The tool's next poll collects the tokens.
        var tokens = await PostAsync("/connect/token", new()
        {
            ["grant_type"] = DeviceCodeGrant,
            ["device_code"] = device.Body.GetProperty("device_code").GetString()!,
            ["client_id"] = clientId,
        });
        Assert.True(tokens.Status == HttpStatusCode.OK, tokens.Body.ToString());
        Assert.Equal("Bearer", tokens.Body.GetProperty("token_type").GetString());
        foreach (var token in new[] { "access_token", "id_token", "refresh_token" })
        {
            Assert.False(string.IsNullOrEmpty(tokens.Body.GetProperty(token).GetString()), token);
        }
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, Dictionary<string, string> form)
    {
        using var response = await deployment.Http.PostAsync(deployment.ServerUri(path), new FormUrlEncodedContent(form));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }
}
