using System.Net;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Admin;

public sealed class OpenApiTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private async Task<JsonElement> DocumentAsync()
    {
        using var http = factory.CreateClient();
        using var response = await http.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    [Theory]
    [InlineData("/admin/clients", "get post")]
    [InlineData("/admin/clients/{clientId}", "get put delete")]
    [InlineData("/admin/clients/{clientId}/secret", "post")]
    [InlineData("/admin/scopes", "get post")]
    [InlineData("/admin/scopes/{name}", "get put delete")]
    [InlineData("/admin/users", "get post")]
    [InlineData("/admin/users/{id}", "get put delete")]
    [InlineData("/admin/users/{id}/password", "post")]
    public async Task The_openapi_document_describes_every_admin_path_and_method(string path, string methods)
    {
        var document = await DocumentAsync();

        Assert.True(document.GetProperty("paths").TryGetProperty(path, out var item), $"{path} is missing from the OpenAPI document");
        foreach (var method in methods.Split(' '))
        {
            Assert.True(item.TryGetProperty(method, out _), $"{method.ToUpperInvariant()} {path} is missing from the OpenAPI document");
        }
    }

    [Fact]
    public async Task Every_operation_in_the_openapi_document_has_its_own_operation_id()
    {
        var document = await DocumentAsync();

        var operations = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => (Method: operation.Name, operation.Value))).ToList();
        Assert.DoesNotContain(operations, operation => operation.Method == "head");
        var ids = operations.Where(operation => operation.Value.ValueKind == JsonValueKind.Object && operation.Value.TryGetProperty("operationId", out _))
            .Select(operation => operation.Value.GetProperty("operationId").GetString()).ToList();
        Assert.NotEmpty(ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public async Task The_openapi_document_describes_the_users_list_query_parameters()
    {
        var document = await DocumentAsync();

        var parameters = document.GetProperty("paths").GetProperty("/admin/users").GetProperty("get").GetProperty("parameters")
            .EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Equal(["page", "pageSize", "search"], parameters.Order());
    }

    [Theory]
    [InlineData("ClientRequest", "clientId clientType clientSecret redirectUris postLogoutRedirectUris grantTypes scopes consentType allowedCorsOrigins displayName")]
    [InlineData("ScopeRequest", "name displayName resources")]
    [InlineData("UserRequest", "username email password roles enabled")]
    public async Task The_openapi_document_describes_request_bodies_in_camel_case(string schema, string fields)
    {
        var document = await DocumentAsync();

        var properties = document.GetProperty("components").GetProperty("schemas").GetProperty(schema).GetProperty("properties");
        foreach (var field in fields.Split(' '))
        {
            Assert.True(properties.TryGetProperty(field, out _), $"{schema}.{field} is missing");
        }
    }

    [Fact]
    public async Task The_openapi_document_leaves_the_protocol_endpoints_to_discovery()
    {
        var document = await DocumentAsync();

        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.All(paths, p => Assert.StartsWith("/admin/", p + "/", StringComparison.Ordinal));
    }
}
