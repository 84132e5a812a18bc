namespace IdentityServer.Hosting;

public static class HostingExtensions
{
    public const int MaxRequestBodyBytes = 1024 * 1024;

    /// <summary>Errors as RFC 9457 problem details, time from an injectable clock.</summary>
    public static IHostApplicationBuilder AddHostingDefaults(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            BearerErrors.AddToProblem(context);
            Connect.OAuthServerErrors.AddToProblem(context);
        });
        builder.Services.AddExceptionHandler<MalformedRequestHandler>();
        // Bad request bodies reach MalformedRequestHandler (field-keyed problem details) instead of a bare 400.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(routes => routes.ThrowOnBadRequest = true);
        builder.Services.AddHttpContextAccessor();
        // Every request here is a small form or JSON document; Kestrel's default (28.6 MB) let anyone make the server
        // read and buffer that much per request, on the token endpoint before any client is known. 413 beyond 1 MB.
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            // No "Server: Kestrel" on every answer: it tells a scanner what to try and a client nothing.
            kestrel.AddServerHeader = false;
        });

        // Below Warning, OpenIddict writes whole requests and tokens (code_verifier, JWTs) into its messages;
        // no configuration may turn that on. Our own log events cover sign-ins, refusals and admin changes.
        builder.Services.PostConfigure<LoggerFilterOptions>(KeepOpenIddictAtWarning);
        return builder;
    }

    /// <summary>
    /// Logging applies the most specific rule, so a configured rule for a category below OpenIddict
    /// (<c>Logging:LogLevel:OpenIddict.Server</c>) or for one provider (<c>Logging:Console:LogLevel:Default</c>) would
    /// beat a plain filter. After configuration: every OpenIddict rule goes, and each provider named in a rule, and
    /// every other, gets OpenIddict at Warning.
    /// </summary>
    private static void KeepOpenIddictAtWarning(LoggerFilterOptions options)
    {
        var kept = options.Rules.Where(rule => rule.CategoryName?.StartsWith("OpenIddict", StringComparison.OrdinalIgnoreCase) != true).ToList();
        var providers = kept.Select(rule => rule.ProviderName).Where(name => name is not null).Distinct(StringComparer.Ordinal).ToList();
        options.Rules.Clear();
        foreach (var rule in kept)
        {
            options.Rules.Add(rule);
        }

        foreach (var provider in providers.Append(null))
        {
            options.Rules.Add(new LoggerFilterRule(provider, "OpenIddict", logLevel: null, filter: (_, _, level) => level >= LogLevel.Warning));
        }
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
        builder.Services.AddRazorPages(pages =>
            {
                pages.RootDirectory = "/";
                pages.Conventions.AddFolderApplicationModelConvention("/Account", page => page.Filters.Add(new Account.StaleFormsStartAgain()));
            })
            .AddMvcOptions(mvc => mvc.Filters.Add<SecurityHeaders.PageContentSecurityPolicyFilter>());
        // Like the session cookie: Secure whenever the request is (always, off loopback).
        builder.Services.AddAntiforgery(antiforgery => antiforgery.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest);
        return builder;
    }
}
