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
    [InlineData("/admin/users/{id}/logout", "post")]
    [InlineData("/admin/users/{id}/consents", "get")]
    [InlineData("/admin/users/{id}/consents/{clientId}", "delete")]
    public async Task The_openapi_document_describes_every_admin_path_and_method(string path, string methods)
    {
        var document = await DocumentAsync();

        Assert.True(document.GetProperty("paths").TryGetProperty(path, out var item), $"{path} is missing from the OpenAPI document");
        foreach (var method in methods.Split(' '))
        {
            Assert.True(item.TryGetProperty(method, out _), $"{method.ToUpperInvariant()} {path} is missing from the OpenAPI document");
        }
    }

    [Theory]
    [InlineData("/admin/clients", "post", "201 400 401 403 409")]
    [InlineData("/admin/clients/{clientId}", "get", "200 401 403 404")]
    [InlineData("/admin/clients/{clientId}", "delete", "204 401 403 404 409")]
    [InlineData("/admin/scopes/{name}", "put", "200 400 401 403 404 409")]
    [InlineData("/admin/users", "get", "200 400 401 403")]
    [InlineData("/admin/users/{id}/password", "post", "204 400 401 403 404 409")]
    [InlineData("/admin/users/{id}/logout", "post", "204 401 403 404 409")]
    public async Task The_openapi_document_lists_the_answers_an_admin_call_can_get(string path, string method, string statuses)
    {
        var document = await DocumentAsync();

        var responses = document.GetProperty("paths").GetProperty(path).GetProperty(method).GetProperty("responses");
        Assert.Equal(statuses.Split(' '), responses.EnumerateObject().Select(response => response.Name).Order());
        foreach (var error in responses.EnumerateObject().Where(response => response.Name.StartsWith('4')))
        {
            Assert.True(error.Value.GetProperty("content").TryGetProperty("application/problem+json", out _), $"{method} {path} {error.Name} is not problem details");
        }
    }

    [Fact]
    public async Task The_openapi_document_describes_what_a_created_client_looks_like()
    {
        var document = await DocumentAsync();

        var created = document.GetProperty("paths").GetProperty("/admin/clients").GetProperty("post").GetProperty("responses").GetProperty("201");
        var schema = created.GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString();
        Assert.Equal("#/components/schemas/ClientResponse", schema);
    }

    [Fact]
    public async Task The_openapi_document_says_every_call_sends_a_bearer_token()
    {
        var document = await DocumentAsync();

        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        Assert.True(document.GetProperty("security")[0].TryGetProperty("Bearer", out _));
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
