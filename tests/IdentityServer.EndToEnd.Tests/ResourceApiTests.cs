using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using IdentityServer.EndToEnd.Tests.Infrastructure;

namespace IdentityServer.EndToEnd.Tests;

/// <summary>The Orders API (ResourceApi) against real tokens from the running IdentityServer.</summary>
[Collection(DeploymentCollection.Name)]
public sealed class ResourceApiTests(Deployment deployment)
{
    [Fact]
    public async Task A_token_with_the_api_scope_and_audience_is_accepted()
    {
        var token = await WorkerTokenAsync(deployment.IdentityServer.BaseAddress, "api1");

        using var response = await CallAsync(token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(Deployment.WorkerClientId, body.GetProperty("clientId").GetString());
        Assert.Contains("api1", body.GetProperty("scopes").EnumerateArray().Select(scope => scope.GetString()));
    }

    [Fact]
    public async Task A_request_without_a_token_is_refused()
    {
        using var response = await CallAsync(token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task A_token_for_another_api_is_refused_for_its_audience()
    {
        var token = await WorkerTokenAsync(deployment.IdentityServer.BaseAddress, "api2");

        using var response = await CallAsync(token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("audience", response.Headers.WwwAuthenticate.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_token_for_the_api_without_the_api_scope_is_forbidden()
    {
        // Same audience (api1-resource), but only the api1.audit scope.
        var token = await WorkerTokenAsync(deployment.IdentityServer.BaseAddress, "api1.audit");

        using var response = await CallAsync(token);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task A_token_from_another_issuer_is_refused()
    {
        // The server names itself after the origin it is reached at: through "localhost" it issues tokens as
        // http://localhost:PORT/, signed with the same keys, which the API (configured for 127.0.0.1) must refuse.
        var otherIssuer = new UriBuilder(deployment.IdentityServer.BaseAddress) { Host = "localhost" }.Uri;
        var token = await WorkerTokenAsync(otherIssuer, "api1");

        using var response = await CallAsync(token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("issuer", response.Headers.WwwAuthenticate.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    private Task<string> WorkerTokenAsync(Uri server, string scope) =>
        deployment.ClientCredentialsTokenAsync(server, Deployment.WorkerClientId, deployment.WorkerClientSecret, scope);

    private async Task<HttpResponseMessage> CallAsync(string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(deployment.ResourceApi.BaseAddress, "/api/me"));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await deployment.Http.SendAsync(request);
    }
}
