using IdentityServer.Hosting;
using IdentityServer.Persistence;
using Microsoft.AspNetCore.Identity;
using static OpenIddict.Abstractions.OpenIddictConstants;
using IdentityServer.Connect;

namespace IdentityServer.Users;

public static class UsersExtensions
{
    public static IHostApplicationBuilder AddUsers(this IHostApplicationBuilder builder)
    {
        builder.AddValidatedOptions<PasswordHashingOptions>(PasswordHashingOptions.SectionName);

        builder.AddValidatedOptions<LockoutSettings>(LockoutSettings.SectionName);

        builder.Services.AddIdentity<ApplicationUser, IdentityRole>(identity =>
            {
                // Length beats composition rules (NIST SP 800-63B); BCrypt caps the top end.
                identity.Password.RequiredLength = 8;
                identity.Password.RequireDigit = false;
                identity.Password.RequireLowercase = false;
                identity.Password.RequireUppercase = false;
                identity.Password.RequireNonAlphanumeric = false;
                identity.Password.RequiredUniqueChars = 1;
                identity.User.RequireUniqueEmail = false;
                identity.User.AllowedUserNameCharacters = UserErrors.AllowedUserNameCharacters;
                identity.Lockout.AllowedForNewUsers = true;
                // Tokens carry OpenID Connect claim names, so the cookie principal uses them too.
                identity.ClaimsIdentity.UserIdClaimType = Claims.Subject;
                identity.ClaimsIdentity.UserNameClaimType = Claims.Name;
                identity.ClaimsIdentity.RoleClaimType = Claims.Role;
                identity.ClaimsIdentity.EmailClaimType = Claims.Email;
            })
            .AddEntityFrameworkStores<ApplicationDbContext>()
            .AddUserStore<ApplicationUserStore>()
            .AddUserManager<ApplicationUserManager>()
            .AddSignInManager<ApplicationSignInManager>()
            .AddClaimsPrincipalFactory<SessionPrincipalFactory>()
            .AddPasswordValidator<BcryptPasswordLengthValidator>()
            .AddPasswordValidator<NoNulPasswordValidator>()
            .AddUserValidator<UniqueSignInNamesValidator>()
            .AddDefaultTokenProviders()
            .AddErrorDescriber<UserErrors>();

        builder.Services.AddScoped<BrowserSessions>();
        builder.Services.AddScoped<SignInAttempts>();
        builder.Services.AddSingleton<PasswordHashingThreads>();
        builder.Services.AddSingleton<BcryptPasswordHasher>();
        builder.Services.AddSingleton<IPasswordHasher<ApplicationUser>>(services => services.GetRequiredService<BcryptPasswordHasher>());
        builder.Services.AddOptions<IdentityOptions>()
            .Configure<Microsoft.Extensions.Options.IOptions<LockoutSettings>>((identity, lockout) =>
            {
                identity.Lockout.MaxFailedAccessAttempts = lockout.Value.MaxFailedAttempts;
                identity.Lockout.DefaultLockoutTimeSpan = lockout.Value.Duration;
            });

        builder.Services.Configure<SecurityStampValidatorOptions>(stamp =>
        {
            stamp.ValidationInterval = TimeSpan.FromMinutes(1);
            // Keep the original sign-in time and session id when the cookie is re-issued: max_age would otherwise never
            // expire, and signing out would no longer end the re-issued cookie.
            stamp.OnRefreshingPrincipal = context =>
            {
                BrowserSessions.KeepAcrossReissue(context.CurrentPrincipal, context.NewPrincipal);
                return Task.CompletedTask;
            };
        });

        builder.Services.ConfigureApplicationCookie(cookie =>
        {
            cookie.LoginPath = "/account/login";
            cookie.LogoutPath = ConnectPaths.EndSession;
            cookie.AccessDeniedPath = "/account/login";
            cookie.Cookie.Name = "idsrv.session";
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Lax;   // over HTTPS: None (SessionCookieManager)
            cookie.CookieManager = new SessionCookieManager();
            cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            cookie.ExpireTimeSpan = TimeSpan.FromHours(8);
            // A sign-in at the login page would send the browser to the query's raw ReturnUrl (a 500 on Kestrel when it
            // holds characters beyond ASCII); the page redirects itself, to the checked and encoded one.
            cookie.Events.OnRedirectToReturnUrl = _ => Task.CompletedTask;
            cookie.SlidingExpiration = true;
            // Identity set the security stamp check here; a session signed out on the server is refused after it.
            cookie.Events.OnValidatePrincipal = BrowserSessions.RejectEnded(cookie.Events.OnValidatePrincipal);
        });

        return builder;
    }
}

public sealed class LockoutSettings
{
    public const string SectionName = "Lockout";

    [System.ComponentModel.DataAnnotations.Range(1, 1000)]
    public int MaxFailedAttempts { get; set; } = 5;

    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan Duration { get; set; } = TimeSpan.FromMinutes(15);
}
