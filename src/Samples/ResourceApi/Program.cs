using ResourceApi;

var builder = WebApplication.CreateBuilder(args);
builder.AddApiAuthentication();
builder.Services.AddProblemDetails();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();

app.MapGet("/health", () => Results.Ok(new { status = "ok" }));

var api = app.MapGroup("/api").RequireAuthorization(ApiAuthentication.ScopePolicy);

// Who is calling, as the access token says: no call back to the authorization server.
api.MapGet("/me", (HttpContext context) =>
{
    var user = context.User;
    return Results.Ok(new
    {
        subject = user.FindFirst("sub")?.Value,
        username = user.FindFirst("preferred_username")?.Value ?? user.FindFirst("name")?.Value,
        clientId = user.FindFirst("client_id")?.Value,
        scopes = ApiAuthentication.Scopes(user).Order(StringComparer.Ordinal),
        audiences = user.FindAll("aud").Select(claim => claim.Value),
        expiresAt = long.TryParse(user.FindFirst("exp")?.Value, out var exp) ? DateTimeOffset.FromUnixTimeSeconds(exp) : (DateTimeOffset?)null,
    });
});

api.MapGet("/orders", (HttpContext context) => Results.Ok(new[]
{
    new { id = 1001, item = "Espresso beans, 1 kg", owner = context.User.FindFirst("sub")?.Value },
    new { id = 1002, item = "Burr grinder", owner = context.User.FindFirst("sub")?.Value },
}));

app.Run();

public partial class Program;
