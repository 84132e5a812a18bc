using IdentityServer.Account;
using IdentityServer.Admin;
using IdentityServer.Connect;
using IdentityServer.Hosting;
using IdentityServer.Keys;
using IdentityServer.Persistence;
using IdentityServer.Users;

if (HealthCheckCommand.IsRequested(args)) return await HealthCheckCommand.RunAsync(args); // the image's HEALTHCHECK

StartupFailure.ExitWithOneLine();   // a refusal to start: one line on stderr and exit code 1, not an abort

// Settings (appsettings.json) and pages come from the app's own folder wherever it is started, the repository root
// included; ./data/ stays relative to where it is run. A build (not a publish) serves wwwroot from the project folder.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.WebHost.UseStaticWebAssets();

builder.AddHostingDefaults();
builder.AddTransportSecurity();
builder.AddRateLimits();
builder.AddPersistence();      // Persistence/: database per provider, migrations at start
builder.AddSigningKeys();      // Keys/: signing and encryption keys kept in the database
builder.AddUsers();            // Users/: ASP.NET Core Identity with BCrypt
builder.AddConnect();          // Connect/: the OpenIddict server and its endpoints
builder.AddPages();            // Account/ and Connect/ pages: login, registration, consent
builder.AddAdminApi();         // Admin/: REST API for clients, scopes and users, and the bootstrap
builder.AddHealth();           // Hosting/: liveness and readiness probes
builder.AddTelemetry();        // Hosting/: "IdentityServer" meter, OpenTelemetry export when configured, JSON logs in Production

var app = builder.Build();
StartupFailure.WatchStart(app.Lifetime);
if (await app.TryRunMigrateCommandAsync(args)) return Environment.ExitCode;   // `migrate`: update the schema and exit

app.UseTransportSecurity();
app.UseSecurityHeaders();
if (!app.Environment.IsDevelopment())
{
    app.UseHsts();
}

app.UseIssuerPath();          // an issuer with a path (https://example.com/id) is served under it

app.UseExceptionHandler();
app.UseRejectMalformedRequests();
app.UseStatusCodePages(StatusCodePages.WriteAsync);
app.UseRouting();
app.UseCors();
app.UseRateLimiter();
app.UseAuthentication();
app.UseAuthorization();
app.UseAdminAuthorization();

app.MapPages();
app.MapConnect();
app.MapAdminApi();
app.MapHealth();

await app.RunAsync();
return 0;

public partial class Program;
