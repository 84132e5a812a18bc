using System.Net;
using System.Net.Http.Headers;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.EntityFrameworkCore.Models;

namespace IdentityServer.Tests.Connect;

public sealed class ClientCredentialsTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task A_registered_client_gets_a_signed_jwt_that_a_resource_api_validates_from_the_jwks()
    {
        await tokens.RegisterScopeAsync("api1", "resource-api-1");
        var secret = await tokens.RegisterClientAsync(new { clientId = "worker", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = new[] { "api1" } });

        var accessToken = await tokens.ClientCredentialsTokenAsync("worker", secret!, "api1");

        var jwt = await tokens.ValidateAccessTokenAsync(accessToken, audience: "resource-api-1");
        Assert.Equal("at+jwt", jwt.Typ);
        Assert.Equal("RS256", jwt.Alg);
        Assert.False(string.IsNullOrEmpty(jwt.Kid));
        Assert.Equal("worker", jwt.GetClaim("client_id").Value);
        Assert.Equal("worker", jwt.Subject);
        Assert.Equal("api1", jwt.GetClaim("scope").Value);
        Assert.False(string.IsNullOrEmpty(jwt.Id));
        Assert.True(jwt.TryGetClaim("iat", out _));
    }

    [Fact]
    public async Task A_worker_that_sends_auth0s_audience_parameter_gets_the_token_of_its_scopes()
    {
        await tokens.RegisterScopeAsync("api-audience", "resource-api-audience");
        var secret = await tokens.RegisterClientAsync(new { clientId = "worker-audience", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = new[] { "api-audience" } });

        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["scope"] = "api-audience",
            ["audience"] = "https://some-other-api.example.test",
        }, "worker-audience", secret);

        Assert.True(status == HttpStatusCode.OK, $"{status} {body}");
        var jwt = await tokens.ValidateAccessTokenAsync(body.GetProperty("access_token").GetString()!, audience: "resource-api-audience");
        Assert.Equal(["resource-api-audience"], jwt.Audiences);
    }

    [Fact]
    public async Task A_wrong_secret_is_challenged_with_a_basic_realm()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin" }),
        };
        request.Headers.Authorization = TokenClient.Basic(IdentityServerFactory.AdminClientId, "not-the-secret");

        using var response = await factory.CreateClient().SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(response.Headers.WwwAuthenticate, challenge => challenge.Scheme == "Basic"
            && challenge.Parameter!.Contains("realm=\"IdentityServer\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_wrong_secret_gets_invalid_client_with_401()
    {
        var (status, body) = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin" },
            IdentityServerFactory.AdminClientId, "not-the-secret");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_client", body.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("/connect/token")]
    [InlineData("/connect/introspect")]
    [InlineData("/connect/revoke")]
    public async Task An_unknown_client_gets_the_same_answer_as_a_wrong_secret_so_client_ids_cannot_be_probed(string path)
    {
        Task<(HttpStatusCode, string)> AnswerAsync(string clientId) => RawAnswerAsync(
            path, new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["token"] = "x" }, TokenClient.Basic(clientId, "not-the-secret"));

        var (wrongSecretStatus, wrongSecret) = await AnswerAsync(IdentityServerFactory.AdminClientId);
        var (unknownStatus, unknown) = await AnswerAsync("no-such-client");

        Assert.Equal(HttpStatusCode.Unauthorized, wrongSecretStatus);
        Assert.Equal(wrongSecretStatus, unknownStatus);
        Assert.Equal(wrongSecret, unknown);
    }

    [Theory]
    [InlineData("/connect/token", "client_credentials")]
    [InlineData("/connect/token", "authorization_code")]
    [InlineData("/connect/token", "refresh_token")]
    [InlineData("/connect/introspect", null)]
    [InlineData("/connect/revoke", null)]
    public async Task A_confidential_client_without_its_secret_gets_the_same_answer_as_an_unknown_client(string path, string? grantType)
    {
        Task<(HttpStatusCode, string)> AnswerAsync(string clientId)
        {
            var form = new Dictionary<string, string> { ["client_id"] = clientId, ["token"] = "x", ["code"] = "x", ["refresh_token"] = "x", ["redirect_uri"] = "https://app.example/cb" };
            if (grantType is not null)
            {
                form["grant_type"] = grantType;
            }

            return RawAnswerAsync(path, form, basic: null);
        }

        var (knownStatus, known) = await AnswerAsync(IdentityServerFactory.AdminClientId);
        var (unknownStatus, unknown) = await AnswerAsync("no-such-client");

        Assert.Equal(HttpStatusCode.Unauthorized, knownStatus);
        Assert.Equal(knownStatus, unknownStatus);
        Assert.Equal(known, unknown);
        Assert.Contains("must authenticate", known, StringComparison.Ordinal);
    }

    /// <summary>The status and the exact body, to compare two answers byte for byte.</summary>
    private async Task<(HttpStatusCode, string)> RawAnswerAsync(string path, Dictionary<string, string> form, AuthenticationHeaderValue? basic)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = basic;
        using var response = await tokens.Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_client_assertion_instead_of_a_secret_is_refused()
    {
        // Shaped like a private_key_jwt assertion; no registered client has a key set to check one against.
        var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = IdentityServerFactory.AdminClientId,
            ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ["client_assertion"] = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJhZG1pbiJ9.c2lnbmF0dXJl",
            ["scope"] = "admin",
        });

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_client", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_clients_own_access_token_is_not_stored_yet_introspects_active_for_its_resource()
    {
        await tokens.RegisterScopeAsync("stateless-api", "stateless-resource");
        var apiSecret = await tokens.RegisterClientAsync(new { clientId = "stateless-resource", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>() });
        var secret = await tokens.RegisterClientAsync(new { clientId = "stateless-worker", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = new[] { "stateless-api" } });

        var accessToken = await tokens.ClientCredentialsTokenAsync("stateless-worker", secret!, "stateless-api");

        Assert.Equal(0, await StoredTokensOfAsync("stateless-worker"));
        var introspection = await tokens.IntrospectAsync(accessToken, "stateless-resource", apiSecret!);
        Assert.True(introspection.GetProperty("active").GetBoolean(), introspection.ToString());
        Assert.Equal("stateless-worker", introspection.GetProperty("client_id").GetString());
    }

    [Fact]
    public async Task An_admin_clients_token_is_stored_so_that_deleting_the_client_shuts_it_out_at_once()
    {
        await tokens.ClientCredentialsTokenAsync(IdentityServerFactory.AdminClientId, IdentityServerFactory.AdminClientSecret, "admin");

        Assert.True(await StoredTokensOfAsync(IdentityServerFactory.AdminClientId) > 0);
    }

    [Fact]
    public async Task A_client_whose_grant_an_admin_withdraws_gets_no_token_at_the_next_request()
    {
        await tokens.RegisterScopeAsync("withdrawn-api", "withdrawn-resource");
        var secret = await tokens.RegisterClientAsync(new { clientId = "withdrawn-worker", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = new[] { "withdrawn-api" } });
        await tokens.ClientCredentialsTokenAsync("withdrawn-worker", secret!, "withdrawn-api");

        // The client is now in memory; the admin's change must still apply to the very next request.
        var admin = await tokens.AdminTokenAsync();
        using var update = await tokens.Http.SendAsync(new HttpRequestMessage(HttpMethod.Put, "/admin/clients/withdrawn-worker")
        {
            Content = JsonContent.Create(new { grantTypes = new[] { "authorization_code" }, redirectUris = new[] { "https://app.example/cb" } }),
            Headers = { Authorization = new("Bearer", admin) },
        });
        Assert.Equal(HttpStatusCode.OK, update.StatusCode);

        var (status, body) = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "withdrawn-api" }, "withdrawn-worker", secret);
        Assert.NotEqual(HttpStatusCode.OK, status);
        Assert.Equal("unauthorized_client", body.GetProperty("error").GetString());
    }

    private async Task<int> StoredTokensOfAsync(string clientId)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
        return await db.Set<OpenIddictEntityFrameworkCoreToken>().Include(t => t.Application).AsNoTracking().CountAsync(t => t.Application!.ClientId == clientId);
    }
}
