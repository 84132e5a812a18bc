using System.Net;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

/// <summary>RFC 8707 resource indicators (MCP clients send them): a resource picks audiences among the scopes' own.</summary>
public sealed class ResourceIndicatorTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private const string Calendar = "https://calendar.resource.example.test";
    private const string Mail = "https://mail.resource.example.test";

    private readonly TokenClient tokens = new(factory);

    /// <summary>Scopes "calendar-{suffix}" and "mail-{suffix}", whose resources are the calendar and mail APIs.</summary>
    private async Task<string> RegisterScopesAsync(string suffix)
    {
        await tokens.RegisterScopeAsync("calendar-" + suffix, Calendar);
        await tokens.RegisterScopeAsync("mail-" + suffix, Mail);
        return $"calendar-{suffix} mail-{suffix}";
    }

    private async Task<JsonElement> SignInAsync(TestClient client, string scopes, string username, Dictionary<string, string>? authorizeExtra, Dictionary<string, string>? redeemExtra)
    {
        await tokens.RegisterUserAsync(username, username + "-password-1");
        var pkce = Pkce.Create();
        var browser = new BrowserSession(factory);
        var callback = await browser.SignInAsync(
            OAuthFlows.AuthorizeUrl(client, pkce, "openid offline_access " + scopes, extra: authorizeExtra), username, username + "-password-1");
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = await OAuthFlows.CodeFromAsync(callback, client),
            ["redirect_uri"] = client.RedirectUri,
            ["code_verifier"] = pkce.Verifier,
        };
        foreach (var (name, value) in redeemExtra ?? [])
        {
            form[name] = value;
        }

        var (status, body) = await tokens.TokenAsync(form, client.ClientId, client.Secret);
        Assert.True(status == HttpStatusCode.OK, $"{status} {body}");
        return body;
    }

    private async Task<string[]> AudiencesAsync(JsonElement body) =>
        [.. (await tokens.ValidateAccessTokenAsync(body.Token("access_token"))).Audiences.Order()];

    [Fact]
    public async Task A_worker_naming_one_of_its_scopes_resources_gets_a_token_for_that_resource_alone()
    {
        var scopes = await RegisterScopesAsync("worker");
        var secret = await tokens.RegisterClientAsync(new { clientId = "resource-worker", grantTypes = new[] { "client_credentials" }, scopes = scopes.Split(' ') });

        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["scope"] = scopes,
            ["resource"] = Mail,
        }, "resource-worker", secret);
        var (otherStatus, other) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["scope"] = "calendar-worker",
            ["resource"] = Mail,
        }, "resource-worker", secret);

        Assert.True(status == HttpStatusCode.OK, $"{status} {body}");
        Assert.Equal([Mail], await AudiencesAsync(body));
        // Only the mail API's permission goes to the mail API (Duende's resource isolation), and the answer says so.
        Assert.Equal("mail-worker", (await tokens.ValidateAccessTokenAsync(body.Token("access_token"))).GetClaim("scope").Value);
        Assert.Equal("mail-worker", body.Token("scope"));
        Assert.Equal(HttpStatusCode.BadRequest, otherStatus);
        Assert.Equal("invalid_target", other.Error());
    }

    [Fact]
    public async Task A_resource_named_at_authorization_narrows_the_whole_grant_and_its_refreshes()
    {
        var scopes = await RegisterScopesAsync("grant");
        var client = await tokens.RegisterCodeClientAsync("resource-grant-app", scopes: "openid offline_access " + scopes);

        var issued = await SignInAsync(client, scopes, "rhea", new() { ["resource"] = Calendar }, redeemExtra: null);
        var (_, refreshed) = await tokens.RefreshAsync(client, issued.Token("refresh_token"));
        var (otherStatus, other) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = refreshed.Token("refresh_token"),
            ["resource"] = Mail,
        }, client.ClientId, client.Secret);

        Assert.Equal([Calendar], await AudiencesAsync(issued));
        Assert.Equal([Calendar], await AudiencesAsync(refreshed));
        Assert.Equal(HttpStatusCode.BadRequest, otherStatus);
        Assert.Equal("invalid_target", other.Error());
        // Nothing private reaches the tokens an app or an API reads.
        Assert.False((await tokens.ValidateAccessTokenAsync(refreshed.Token("access_token"))).TryGetClaim("grant_resource", out _));
    }

    [Fact]
    public async Task A_resource_named_at_the_token_endpoint_narrows_that_access_token_and_a_later_refresh_may_name_another()
    {
        var scopes = await RegisterScopesAsync("token");
        var client = await tokens.RegisterCodeClientAsync("resource-token-app", scopes: "openid offline_access " + scopes);

        var issued = await SignInAsync(client, scopes, "ronja", authorizeExtra: null, new() { ["resource"] = Calendar });
        var (_, forMail) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = issued.Token("refresh_token"),
            ["resource"] = Mail,
        }, client.ClientId, client.Secret);
        var (_, forBoth) = await tokens.RefreshAsync(client, forMail.Token("refresh_token"));

        Assert.Equal([Calendar], await AudiencesAsync(issued));
        Assert.Equal([Mail], await AudiencesAsync(forMail));
        Assert.Equal([Calendar, Mail], await AudiencesAsync(forBoth));
        string[] userScopesAndMail = ["mail-token", "offline_access", "openid"];
        Assert.Equal(userScopesAndMail, (await tokens.ValidateAccessTokenAsync(forMail.Token("access_token"))).GetClaim("scope").Value.Split(' ').Order());
        Assert.Contains("calendar-token", (await tokens.ValidateAccessTokenAsync(forBoth.Token("access_token"))).GetClaim("scope").Value.Split(' '));
    }

    [Theory]
    [InlineData("https://elsewhere.example.test", "invalid_target")]
    [InlineData("not-a-uri", "invalid_request")]
    public async Task An_authorization_request_naming_a_resource_its_scopes_do_not_have_goes_back_to_the_client_refused(string resource, string error)
    {
        var scopes = await RegisterScopesAsync("refused-" + error);
        var client = await tokens.RegisterCodeClientAsync("resource-refused-app-" + error, scopes: "openid " + scopes);
        var browser = new BrowserSession(factory);

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), "openid calendar-refused-" + error, extra: new Dictionary<string, string> { ["resource"] = resource }));

        await ProtocolHelpers.AssertSentBackToTheClientAsync(response, client, error);
    }
}
