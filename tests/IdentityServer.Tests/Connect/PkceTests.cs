using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

public sealed class PkceTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task A_public_client_that_sends_no_code_challenge_is_refused_at_its_redirect_uri()
    {
        var client = await tokens.RegisterCodeClientAsync("spa-no-pkce", isPublic: true);
        var browser = new BrowserSession(factory);

        var response = await browser.GoAsync(OAuthFlows.AuthorizeUrl(client, pkce: null));

        var parameters = await ProtocolHelpers.AssertSentBackToTheClientAsync(response, client, "invalid_request");
        Assert.Contains("code_challenge", parameters["error_description"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_plain_code_challenge_method_is_refused()
    {
        var client = await tokens.RegisterCodeClientAsync("spa-plain", isPublic: true);
        var browser = new BrowserSession(factory);
        var url = OAuthFlows.AuthorizeUrl(client, pkce: null, extra: new Dictionary<string, string>
        {
            ["code_challenge"] = new string('a', 43),
            ["code_challenge_method"] = "plain",
        });

        var response = await browser.GoAsync(url);

        var parameters = await ProtocolHelpers.AssertSentBackToTheClientAsync(response, client, "invalid_request");
        Assert.Contains("code_challenge_method", parameters["error_description"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("too-short")]                                                 // an S256 challenge is 43 characters
    [InlineData("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cMx")]                // one too many
    [InlineData("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw.cM")]                 // of base64url only
    [InlineData("with spaces and other characters that are not allowed!!")]
    public async Task A_code_challenge_that_is_not_a_S256_challenge_is_refused(string challenge)
    {
        var client = await tokens.RegisterCodeClientAsync("spa-bad-challenge-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(challenge)))[..8], isPublic: true);
        var browser = new BrowserSession(factory);
        var url = OAuthFlows.AuthorizeUrl(client, pkce: null, extra: new Dictionary<string, string>
        {
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
        });

        var response = await browser.GoAsync(url);

        var parameters = await ProtocolHelpers.AssertSentBackToTheClientAsync(response, client, "invalid_request");
        Assert.Contains("code_challenge", parameters["error_description"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Discovery_advertises_only_S256()
    {
        using var response = await tokens.Http.GetAsync("/.well-known/openid-configuration");
        var discovery = await TokenClient.ReadJsonAsync(response);

        var methods = discovery.GetProperty("code_challenge_methods_supported").EnumerateArray().Select(m => m.GetString()).ToList();
        Assert.Equal(["S256"], methods);
    }

    [Fact]
    public async Task A_public_client_with_S256_gets_tokens_without_a_secret()
    {
        var client = await tokens.RegisterCodeClientAsync("spa-ok", isPublic: true);
        await tokens.RegisterUserAsync("uma", "uma-password-1");

        var body = await tokens.LogInAndRedeemAsync(new BrowserSession(factory), client, "uma", "uma-password-1");

        Assert.Null(client.Secret);
        await tokens.ValidateAccessTokenAsync(body.Token("access_token"));
    }

    [Fact]
    public async Task A_wrong_code_verifier_gets_invalid_grant_and_uses_the_code_up()
    {
        var client = await tokens.RegisterCodeClientAsync("spa-wrong-verifier", isPublic: true);
        await tokens.RegisterUserAsync("vera", "vera-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var code = await OAuthFlows.CodeFromAsync(await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "vera", "vera-password-1"), client);

        var response = await tokens.RedeemCodeAsync(client, code, Pkce.Create());
        var withTheRightVerifier = await tokens.RedeemCodeAsync(client, code, pkce);

        ProtocolHelpers.AssertOAuthError(response, HttpStatusCode.BadRequest, "invalid_grant");
        // A code is good for one attempt (as with Keycloak and Duende): a guessed verifier gets no second try.
        ProtocolHelpers.AssertOAuthError(withTheRightVerifier, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Theory]
    [InlineData("short", "abc")]
    [InlineData("one-short", "a-verifier-of-42-characters-which-is-short")]
    [InlineData("bang", "a-verifier-long-enough-but-with-a-bang-in-it!")]
    [InlineData("too-long", null)]
    [InlineData("newline", "a-verifier-long-enough-that-ends-in-a-newline\n")]
    public async Task A_code_verifier_outside_rfc_7636s_grammar_is_refused_even_when_it_matches_the_challenge(string name, string? verifier)
    {
        verifier ??= new string('v', 129);
        var client = await tokens.RegisterCodeClientAsync($"spa-verifier-{name}", isPublic: true);
        await tokens.RegisterUserAsync($"vic-{name}", "vic-password-1");
        var pkce = Pkce.For(verifier);
        var code = await OAuthFlows.CodeFromAsync(await new BrowserSession(factory).SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), $"vic-{name}", "vic-password-1"), client);

        var response = await tokens.RedeemCodeAsync(client, code, pkce);

        ProtocolHelpers.AssertOAuthError(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task A_code_presented_by_another_client_stays_usable_by_its_own()
    {
        var client = await tokens.RegisterCodeClientAsync("spa-own-code", isPublic: true);
        var thief = await tokens.RegisterCodeClientAsync("spa-code-thief", isPublic: true);
        await tokens.RegisterUserAsync("owen", "owen-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var code = await OAuthFlows.CodeFromAsync(await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "owen", "owen-password-1"), client);

        var stolen = await tokens.RedeemCodeAsync(thief with { RedirectUri = client.RedirectUri }, code, pkce);
        var own = await tokens.RedeemCodeAsync(client, code, pkce);

        // Another client cannot spend someone else's code, used up or not.
        ProtocolHelpers.AssertOAuthError(stolen, HttpStatusCode.BadRequest, "invalid_grant");
        Assert.True(own.Status == HttpStatusCode.OK, own.Body.ToString());
    }

    [Fact]
    public async Task A_code_issued_with_a_challenge_cannot_be_redeemed_without_the_verifier()
    {
        var client = await tokens.RegisterCodeClientAsync("web-missing-verifier");
        await tokens.RegisterUserAsync("wendy", "wendy-password-1");
        var browser = new BrowserSession(factory);
        var code = await OAuthFlows.CodeFromAsync(await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "wendy", "wendy-password-1"), client);

        var response = await tokens.RedeemCodeAsync(client, code, pkce: null);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Contains(response.Body.Error(), new[] { "invalid_request", "invalid_grant" });
    }

    [Fact]
    public async Task A_confidential_client_without_PKCE_still_gets_tokens()
    {
        var client = await tokens.RegisterCodeClientAsync("web-no-pkce");
        var userId = await tokens.RegisterUserAsync("xena", "xena-password-1");
        var browser = new BrowserSession(factory);

        var code = await OAuthFlows.CodeFromAsync(await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce: null), "xena", "xena-password-1"), client);
        var (status, body) = await tokens.RedeemCodeAsync(client, code, pkce: null);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(userId, (await tokens.ValidateAccessTokenAsync(body.Token("access_token"))).Subject);
    }

    [Fact]
    public async Task A_confidential_client_redeeming_with_a_wrong_secret_gets_invalid_client()
    {
        var client = await tokens.RegisterCodeClientAsync("web-wrong-secret");
        await tokens.RegisterUserAsync("yuri", "yuri-password-1");
        var browser = new BrowserSession(factory);
        var pkce = Pkce.Create();
        var code = await OAuthFlows.CodeFromAsync(await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "yuri", "yuri-password-1"), client);

        var response = await tokens.RedeemCodeAsync(client with { Secret = "not-the-secret-of-this-client" }, code, pkce);

        ProtocolHelpers.AssertOAuthError(response, HttpStatusCode.Unauthorized, "invalid_client");
    }
}
