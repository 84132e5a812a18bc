namespace IdentityServer.Hosting;

public static class HostingExtensions
{
    /// <summary>Errors as RFC 9457 problem details, time from an injectable clock.</summary>
    public static IHostApplicationBuilder AddHostingDefaults(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<MalformedRequestHandler>();
        // Bad request bodies reach MalformedRequestHandler (field-keyed problem details) instead of a bare 400.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(routes => routes.ThrowOnBadRequest = true);
        builder.Services.AddHttpContextAccessor();

        // Below Warning, OpenIddict writes whole requests and tokens (code_verifier, JWTs) into its messages;
        // no configuration may turn that on. Our own log events cover sign-ins, refusals and admin changes.
        builder.Logging.AddFilter("OpenIddict", level => level >= LogLevel.Warning);
        return builder;
    }

    public static IEndpointRouteBuilder MapPages(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapStaticAssets();
        endpoints.MapRazorPages().WithStaticAssets();
        return endpoints;
    }

    public static IHostApplicationBuilder AddPages(this IHostApplicationBuilder builder)
    {
        // Pages live beside the feature they belong to (Account/, Connect/), not in a Pages/ folder.
        builder.Services.AddScoped<Account.ClientNames>();
        builder.Services.AddRazorPages(pages => pages.RootDirectory = "/")
            .AddMvcOptions(mvc => mvc.Filters.Add<SecurityHeaders.PageContentSecurityPolicyFilter>());
        // Like the session cookie: Secure whenever the request is (always, off loopback).
        builder.Services.AddAntiforgery(antiforgery => antiforgery.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest);
        return builder;
    }
}
