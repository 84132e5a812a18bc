using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace IdentityServer.EndToEnd.Tests;

/// <summary>
/// The Orders API's token checks with hand-made tokens, for the cases a live server will not produce on demand
/// (an expired token, a token with the wrong type). The API is hosted in memory and its discovery document is
/// replaced by a fixed one naming a test key.
/// </summary>
public sealed class ResourceApiTokenValidationTests : IClassFixture<ResourceApiTokenValidationTests.Api>
{
    private const string Issuer = "https://issuer.example.test/";
    private const string Audience = "api1-resource";

    private readonly Api api;

    public ResourceApiTokenValidationTests(Api api) => this.api = api;

    [Fact]
    public async Task A_valid_token_is_accepted()
    {
        Assert.Equal(HttpStatusCode.OK, (await CallAsync(Mint())).StatusCode);
    }

    [Fact]
    public async Task An_expired_token_is_refused()
    {
        var now = DateTime.UtcNow;
        using var response = await CallAsync(Mint(issuedAt: now.AddMinutes(-10), expires: now.AddMinutes(-5)));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("expired", response.Headers.WwwAuthenticate.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_token_for_another_audience_is_refused()
    {
        using var response = await CallAsync(Mint(audience: "billing-api"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("audience", response.Headers.WwwAuthenticate.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_token_from_another_issuer_is_refused()
    {
        using var response = await CallAsync(Mint(issuer: "https://evil.example.test/"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("issuer", response.Headers.WwwAuthenticate.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_token_signed_by_an_unknown_key_is_refused()
    {
        using var stranger = RSA.Create(2048);
        using var response = await CallAsync(Mint(key: new RsaSecurityKey(stranger) { KeyId = "stranger" }));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task An_id_token_is_not_an_access_token()
    {
        using var response = await CallAsync(Mint(type: "JWT"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("openid profile")]
    [InlineData("api1.audit")]
    [InlineData("api10")]
    public async Task A_token_without_the_api_scope_is_forbidden(string scope)
    {
        Assert.Equal(HttpStatusCode.Forbidden, (await CallAsync(Mint(scope: scope))).StatusCode);
    }

    private async Task<HttpResponseMessage> CallAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await api.Http.SendAsync(request);
    }

    private string Mint(
        string issuer = Issuer, string audience = Audience, string scope = "openid api1", string type = "at+jwt",
        DateTime? issuedAt = null, DateTime? expires = null, SecurityKey? key = null)
    {
        var now = issuedAt ?? DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = expires ?? now.AddMinutes(5),
            TokenType = type,
            Claims = new Dictionary<string, object>
            {
                ["sub"] = "user-1",
                ["client_id"] = "northwind-coffee",
                ["scope"] = scope,
                ["jti"] = Guid.NewGuid().ToString("N"),
            },
            SigningCredentials = new SigningCredentials(key ?? api.SigningKey, SecurityAlgorithms.RsaSha256),
        });
    }

    public sealed class Api : WebApplicationFactory<Program>
    {
        private readonly RSA rsa = RSA.Create(2048);
        private HttpClient? http;

        public Api() => SigningKey = new RsaSecurityKey(rsa) { KeyId = "test-key" };

        public RsaSecurityKey SigningKey { get; }

        public HttpClient Http => http ??= CreateClient();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Testing");
            builder.UseSetting("IdentityServer:Authority", Issuer);
            builder.UseSetting("IdentityServer:Audience", Audience);
            builder.UseSetting("IdentityServer:Scope", "api1");
            builder.ConfigureTestServices(services =>
                services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, options =>
                {
                    var discovery = new OpenIdConnectConfiguration { Issuer = Issuer };
                    discovery.SigningKeys.Add(SigningKey);
                    options.ConfigurationManager = new StaticConfigurationManager<OpenIdConnectConfiguration>(discovery);
                }));
        }

        protected override void Dispose(bool disposing)
        {
            http?.Dispose();
            rsa.Dispose();
            base.Dispose(disposing);
        }
    }
}
