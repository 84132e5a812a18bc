using System.Net;
using IdentityServer.Tests.Infrastructure;

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
    public async Task A_wrong_secret_gets_invalid_client_with_401()
    {
        var (status, body) = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin" },
            IdentityServerFactory.AdminClientId, "not-the-secret");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_client", body.GetProperty("error").GetString());
    }
}
