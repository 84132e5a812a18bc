using System.Net;
using System.Net.Http.Headers;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

/// <summary>Requests the specifications refuse are refused, not read as something else.</summary>
public sealed class WellFormedRequestTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private async Task<(TestClient Client, BrowserSession Browser, string AccessToken)> SignedInAsync(string clientId, string username)
    {
        var client = await tokens.RegisterCodeClientAsync(clientId);
        await tokens.RegisterUserAsync(username, username + "-password");
        var browser = new BrowserSession(factory);
        var body = await tokens.LogInAndRedeemAsync(browser, client, username, username + "-password");
        return (client, browser, body.Token("access_token"));
    }

    [Fact]
    public async Task An_authorization_request_with_a_parameter_sent_twice_is_sent_back_as_invalid_request()
    {
        var (client, browser, _) = await SignedInAsync("twice-authorize", "tabea");

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()) + "&nonce=another");

        var parameters = await ProtocolHelpers.AssertSentBackToTheClientAsync(response, client, "invalid_request");
        Assert.Contains("nonce", parameters["error_description"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("max_age", "abc")]
    [InlineData("max_age", "1.5")]
    [InlineData("prompt", "create none")]
    [InlineData("request_uri", "urn:ietf:params:oauth:request_uri:abc")]
    [InlineData("id_token_hint", "abc.def.ghi")]
    public async Task An_authorization_request_parameter_the_server_cannot_honour_is_sent_back_as_an_error(string name, string value)
    {
        var client = await tokens.RegisterCodeClientAsync("shape-" + Guid.NewGuid().ToString("N")[..8]);
        var browser = new BrowserSession(factory);

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { [name] = value }));

        await ProtocolHelpers.AssertSentBackToTheClientAsync(response, client, name == "request_uri" ? "request_uri_not_supported" : "invalid_request");
    }

    [Fact]
    public async Task A_max_age_of_centuries_asks_for_no_new_sign_in_and_is_no_server_error()
    {
        var (client, browser, _) = await SignedInAsync("max-age-huge", "matilda");

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["max_age"] = "922337203686" }));

        await OAuthFlows.CodeFromAsync(response, client);
    }

    [Theory]
    [InlineData("max_age")]
    [InlineData("request_uri")]
    [InlineData("id_token_hint")]
    public async Task A_parameter_sent_without_a_value_counts_as_omitted(string name)
    {
        var (client, browser, _) = await SignedInAsync("empty-" + Guid.NewGuid().ToString("N")[..8], "emma-" + Guid.NewGuid().ToString("N")[..8]);

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()) + $"&{name}=&prompt=none");

        await OAuthFlows.CodeFromAsync(response, client);
    }

    [Theory]
    [InlineData("9223372036854775807")]
    [InlineData("99999999999999999999999999")]
    public async Task A_max_age_of_any_number_of_digits_is_a_number_of_seconds_like_any_other(string maxAge)
    {
        var (client, browser, _) = await SignedInAsync("max-age-" + maxAge.Length, "maximilian" + maxAge.Length);

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["max_age"] = maxAge }));

        await OAuthFlows.CodeFromAsync(response, client);
    }

    [Fact]
    public async Task An_empty_client_id_beside_basic_credentials_or_an_empty_access_token_beside_a_bearer_header_counts_as_omitted()
    {
        var (_, _, accessToken) = await SignedInAsync("empty-beside", "beatrix");
        using var userinfo = new HttpRequestMessage(HttpMethod.Post, "/connect/userinfo")
        {
            Content = new FormUrlEncodedContent([KeyValuePair.Create("access_token", "")]),
        };
        userinfo.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);

        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["scope"] = "admin", ["client_id"] = "",
        }, IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret);
        using var userinfoResponse = await factory.CreateClient().SendAsync(userinfo);

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal(HttpStatusCode.OK, userinfoResponse.StatusCode);
    }

    [Fact]
    public async Task A_token_request_with_a_parameter_sent_twice_gets_invalid_request()
    {
        var form = new FormUrlEncodedContent(
        [
            KeyValuePair.Create("grant_type", "client_credentials"),
            KeyValuePair.Create("scope", "admin"),
            KeyValuePair.Create("scope", "nothing"),
        ]);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token") { Content = form };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(
            System.Text.Encoding.UTF8.GetBytes($"{IdentityServerFactory.AdminClientId}:{IdentityServerFactory.AdminClientSecret}")));

        using var response = await factory.CreateClient().SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("invalid_request", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_request_naming_one_client_in_basic_credentials_and_another_in_the_body_gets_invalid_request()
    {
        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["scope"] = "admin", ["client_id"] = "someone-else",
        }, IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret);
        var (sameStatus, sameBody) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["scope"] = "admin", ["client_id"] = IdentityServerFactory.AdminClientId,
        }, IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret);

        ProtocolHelpers.AssertOAuthError((status, body), HttpStatusCode.BadRequest, "invalid_request");
        Assert.True(sameStatus == HttpStatusCode.OK, sameBody.ToString());
    }

    [Fact]
    public async Task Introspection_by_get_is_refused_so_secrets_and_tokens_stay_out_of_urls()
    {
        var (_, _, accessToken) = await SignedInAsync("introspect-get", "ingrid");
        var url = $"/connect/introspect?token={accessToken}&client_id={IdentityServerFactory.AdminClientId}&client_secret={IdentityServerFactory.AdminClientSecret}";

        using var response = await factory.CreateClient().GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain("\"active\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Userinfo_takes_the_access_token_from_the_header_or_the_body_but_not_the_url_or_both()
    {
        var (_, _, accessToken) = await SignedInAsync("userinfo-places", "ursula");
        var http = factory.CreateClient();

        using var inTheUrl = await http.GetAsync("/connect/userinfo?access_token=" + accessToken);
        using var inTheBody = await http.PostAsync("/connect/userinfo", new FormUrlEncodedContent([KeyValuePair.Create("access_token", accessToken)]));
        using var both = new HttpRequestMessage(HttpMethod.Post, "/connect/userinfo")
        {
            Content = new FormUrlEncodedContent([KeyValuePair.Create("access_token", accessToken)]),
        };
        both.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var inBoth = await http.SendAsync(both);

        Assert.Equal(HttpStatusCode.BadRequest, inTheUrl.StatusCode);
        Assert.Contains("invalid_request", inTheUrl.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, inTheBody.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, inBoth.StatusCode);
    }

    [Fact]
    public async Task Ending_the_session_with_an_id_token_hint_the_server_cannot_validate_asks_the_user_then_does_not_return_to_the_client()
    {
        var (client, browser, _) = await SignedInAsync("endsession-bad-hint", "hedda");

        await browser.GoAsync($"/connect/endsession?id_token_hint=abc.def.ghi&post_logout_redirect_uri={Uri.EscapeDataString(client.PostLogoutRedirectUri)}&state=s");
        Assert.Equal("/account/signout", browser.PageUri!.AbsolutePath);
        var response = await browser.ClickAsync("logout");
        var landedOn = browser.PageUri!.AbsolutePath;
        var afterwards = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create(), extra: new Dictionary<string, string> { ["prompt"] = "none" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/account/signed-out", landedOn);
        await ProtocolHelpers.AssertSentBackToTheClientAsync(afterwards, client, "login_required");
    }
}
