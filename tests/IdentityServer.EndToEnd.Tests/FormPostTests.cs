using IdentityServer.EndToEnd.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Playwright;

namespace IdentityServer.EndToEnd.Tests;

/// <summary>response_mode=form_post in a real browser: the answer page posts itself to the app, under the pages' CSP.</summary>
[Collection(DeploymentCollection.Name)]
public sealed class FormPostTests(Deployment deployment) : BrowserTests(deployment.NewBrowserContextAsync)
{
    private const string Password = "Correct-horse-9";
    private const string RedirectUri = "http://127.0.0.1:9/form-post/callback";   // never reached: the test catches the post

    [Fact]
    public async Task After_signing_in_the_browser_posts_the_code_and_state_to_the_app_by_itself()
    {
        var clientId = $"form-post-{Guid.NewGuid().ToString("N")[..8]}";
        await deployment.CreateClientAsync(new
        {
            clientId,
            clientType = "confidential",
            redirectUris = new[] { RedirectUri },
            grantTypes = new[] { "authorization_code" },
            scopes = new[] { "openid" },
        });
        var username = $"poster-{Guid.NewGuid().ToString("N")[..8]}";
        await deployment.CreateUserAsync(username, Password);
        var posted = new TaskCompletionSource<IRequest>(TaskCreationOptions.RunContinuationsAsynchronously);
        await Page.RouteAsync("**/form-post/callback", async route =>
        {
            posted.TrySetResult(route.Request);
            await route.FulfillAsync(new() { Status = 200, ContentType = "text/plain", Body = "received" });
        });
        var cspViolations = new List<string>();
        Page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.Ordinal))
            {
                cspViolations.Add(message.Text);
            }
        };

        await Page.GotoAsync(QueryHelpers.AddQueryString($"{deployment.Authority}/connect/authorize", new Dictionary<string, string?>
        {
            ["client_id"] = clientId,
            ["redirect_uri"] = RedirectUri,
            ["response_type"] = "code",
            ["response_mode"] = "form_post",
            ["scope"] = "openid",
            ["state"] = "posted-state",
            ["nonce"] = "posted-nonce",
        }));
        await Page.FillAsync("input#username", username);
        await Page.FillAsync("input#password", Password);
        await Page.ClickAsync("button#login");
        var request = await posted.Task.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal("POST", request.Method);
        var fields = QueryHelpers.ParseQuery(request.PostData);
        Assert.Equal("posted-state", fields["state"].ToString());
        Assert.False(string.IsNullOrEmpty(fields["code"].ToString()));
        Assert.Empty(cspViolations);
    }
}
