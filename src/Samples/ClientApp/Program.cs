using ClientApp;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddOptions<SignInOptions>()
    .Bind(builder.Configuration.GetSection(SignInOptions.SectionName))
    .ValidateDataAnnotations()
    .ValidateOnStart();
builder.Services.AddOptions<ResourceApiOptions>()
    .Bind(builder.Configuration.GetSection(ResourceApiOptions.SectionName))
    .ValidateDataAnnotations()
    .ValidateOnStart();

// The session is a cookie; signing in is delegated to IdentityServer with OpenID Connect.
builder.Services.AddAuthentication(options =>
    {
        options.DefaultScheme = CookieAuthenticationDefaults.AuthenticationScheme;
        options.DefaultChallengeScheme = OpenIdConnectDefaults.AuthenticationScheme;
    })
    .AddCookie(cookie =>
    {
        cookie.Cookie.Name = "clientapp.session";
        cookie.Cookie.SameSite = SameSiteMode.Lax;
        cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        // Signed out at IdentityServer meanwhile (back-channel logout): this session ends too.
        cookie.Events.OnValidatePrincipal = BackChannelLogout.EndIfLoggedOutAsync;
    })
    .AddOpenIdConnect();

builder.Services.AddOptions<OpenIdConnectOptions>(OpenIdConnectDefaults.AuthenticationScheme)
    .Configure<IOptions<SignInOptions>>((oidc, settings) =>
    {
        var signIn = settings.Value;
        oidc.Authority = signIn.Authority!.ToString();
        oidc.ClientId = signIn.ClientId;
        oidc.ClientSecret = signIn.ClientSecret;
        // Plain-HTTP discovery only when the server runs on this machine.
        oidc.RequireHttpsMetadata = !signIn.AuthorityIsLoopback;

        // Authorization code flow with PKCE; the code comes back on the query string of a top-level redirect,
        // so the correlation and nonce cookies can be SameSite=Lax and need no cross-site POST.
        oidc.ResponseType = OpenIdConnectResponseType.Code;
        oidc.ResponseMode = OpenIdConnectResponseMode.Query;
        oidc.UsePkce = true;
        oidc.CorrelationCookie.SameSite = SameSiteMode.Lax;
        oidc.CorrelationCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        oidc.NonceCookie.SameSite = SameSiteMode.Lax;
        oidc.NonceCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;

        oidc.Scope.Clear();
        foreach (var scope in signIn.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            oidc.Scope.Add(scope);
        }

        oidc.SaveTokens = true;                        // access, refresh and id token (and expires_at) kept in the cookie
        oidc.GetClaimsFromUserInfoEndpoint = true;
        oidc.MapInboundClaims = false;                 // keep the JWT claim names: sub, preferred_username, email
        oidc.ClaimActions.MapUniqueJsonKey("preferred_username", "preferred_username");
        // OpenIddict's private claims (authorization and token ids) mean nothing to this app.
        oidc.ClaimActions.DeleteClaims("oi_au_id", "oi_tkn_id");
        oidc.TokenValidationParameters.NameClaimType = "preferred_username";
        oidc.TokenValidationParameters.RoleClaimType = "role";

        // The end-session endpoint sends the browser back to /signout-callback-oidc (the registered
        // post_logout_redirect_uri), which then lands here.
        oidc.SignedOutRedirectUri = "/signed-out";

        oidc.Events.OnAccessDenied = context =>
        {
            // The user pressed "Deny" on the consent page: error=access_denied.
            context.Response.Redirect("/signin-error?error=access_denied");
            context.HandleResponse();
            return Task.CompletedTask;
        };
        oidc.Events.OnRemoteFailure = context =>
        {
            var error = context.Failure is OpenIdConnectProtocolException protocol ? protocol.Message : "sign_in_failed";
            context.Response.Redirect("/signin-error?error=" + Uri.EscapeDataString(error));
            context.HandleResponse();
            return Task.CompletedTask;
        };
    });

builder.Services.AddAuthorization();
builder.Services.AddRazorPages();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddHttpClient(AccessTokens.HttpClientName);
builder.Services.AddHttpClient("ResourceApi", (services, http) =>
    http.BaseAddress = services.GetRequiredService<IOptions<ResourceApiOptions>>().Value.BaseUrl);
builder.Services.AddScoped<AccessTokens>();
builder.Services.AddSingleton<EndedSessions>();

var app = builder.Build();

app.UseExceptionHandler("/signin-error");
app.UseStaticFiles();
app.UseRouting();
app.UseAuthentication();
app.UseAuthorization();

app.MapGet("/health", () => Results.Ok(new { status = "ok" }));
app.MapRazorPages();
app.MapBackChannelLogout();

app.Run();

public partial class Program;
