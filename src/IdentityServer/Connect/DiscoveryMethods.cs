using Microsoft.AspNetCore;
using Microsoft.Net.Http.Headers;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// The discovery document and the JWKS are plain resources (RFC 9110 9.3.2): HEAD answers like GET (Kestrel sends the
/// headers alone) and another method is 405 with <c>Allow</c>, where OpenIddict answered both with 400 invalid_request.
/// </summary>
internal sealed class DiscoveryMethods<TContext> : IOpenIddictServerHandler<TContext> where TContext : BaseValidatingContext
{
    private static readonly OpenIddictServerAspNetCoreHandlers.ExtractGetRequest<TContext> BuiltIn = new();

    public static OpenIddictServerHandlerDescriptor Replaced => OpenIddictServerAspNetCoreHandlers.ExtractGetRequest<TContext>.Descriptor;

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
            .AddFilter<OpenIddictServerAspNetCoreHandlerFilters.RequireHttpRequest>()
            .UseSingletonHandler<DiscoveryMethods<TContext>>()
            .SetOrder(Replaced.Order)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(TContext context)
    {
        var http = context.Transaction.GetHttpRequest()!;
        if (HttpMethods.IsHead(http.Method))
        {
            context.Transaction.Request = new OpenIddictRequest(http.Query);
            return ValueTask.CompletedTask;
        }

        if (!HttpMethods.IsGet(http.Method))
        {
            http.HttpContext.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            http.HttpContext.Response.Headers[HeaderNames.Allow] = "GET, HEAD";
            context.HandleRequest();
            return ValueTask.CompletedTask;
        }

        return BuiltIn.HandleAsync(context);
    }
}
