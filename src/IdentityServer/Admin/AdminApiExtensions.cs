using IdentityServer.Hosting;
using Microsoft.AspNetCore.Routing;
using Scalar.AspNetCore;

namespace IdentityServer.Admin;

public static class AdminApiExtensions
{
    private const string BearerScheme = "Bearer";

    public static IHostApplicationBuilder AddAdminApi(this IHostApplicationBuilder builder)
    {
        builder.AddValidatedOptions<BootstrapOptions>(BootstrapOptions.SectionName);

        builder.Services.AddScoped<AuditTrail>();
        builder.Services.AddHostedService<Bootstrap>();
        // HEAD is answered wherever GET is (see MapAdminApi) but is no operation of its own in the API's description:
        // listed, it would repeat every GET's operationId, which client generators refuse.
        builder.Services.AddOpenApi(options => options.AddDocumentTransformer((document, _, _) =>
        {
            foreach (var path in document.Paths.Values)
            {
                path.Operations?.Remove(HttpMethod.Head);
            }

            // Every admin call sends a bearer access token with scope admin; said once for the whole document, so that
            // generated clients and the API reference send it.
            document.Components ??= new Microsoft.OpenApi.OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, Microsoft.OpenApi.IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[BearerScheme] = new Microsoft.OpenApi.OpenApiSecurityScheme
            {
                Type = Microsoft.OpenApi.SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "An access token with scope admin, e.g. from the client_credentials grant at /connect/token.",
            };
            document.Security = [new Microsoft.OpenApi.OpenApiSecurityRequirement
            {
                [new Microsoft.OpenApi.OpenApiSecuritySchemeReference(BearerScheme, document)] = [],
            }];
            return Task.CompletedTask;
        }));
        return builder;
    }

    /// <summary>Guards the admin endpoints; goes after routing (to see the endpoint) and before the endpoints run.</summary>
    public static IApplicationBuilder UseAdminAuthorization(this IApplicationBuilder app) =>
        app.UseMiddleware<AdminAuthorization>();

    public static IEndpointRouteBuilder MapAdminApi(this WebApplication app)
    {
        var admin = app.MapGroup(AdminApiEndpoint.Path)
            .WithMetadata(AdminApiEndpoint.Instance)
            .WithTags("Admin")
            .AddEndpointFilter<RetryConcurrentChanges>()
            // Every call: no or a bad token, or a token without the admin scope (AdminAuthorization).
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);

        // RFC 9110 9.3.2: what answers GET answers HEAD (headers only; Kestrel sends no body), as Keycloak's API does.
        ((IEndpointConventionBuilder)admin).Add(endpoint =>
        {
            if (endpoint.Metadata.OfType<IHttpMethodMetadata>().LastOrDefault() is { HttpMethods: [var only] } && HttpMethods.IsGet(only))
            {
                endpoint.Metadata.Add(new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head]));
            }
        });

        admin.MapClientsEndpoints();
        admin.MapScopesEndpoints();
        admin.MapUsersEndpoints();
        admin.MapAuditEndpoints();

        app.MapOpenApi();
        if (app.Environment.IsDevelopment())
        {
            app.MapScalarApiReference();
        }

        return app;
    }
}
