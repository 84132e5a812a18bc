using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IdentityServer.Benchmarks;

/// <summary>
/// The floor under any ASP.NET Core answer to a client_credentials request: Kestrel, the form, HTTP Basic checked
/// against a SHA-256 in constant time, one RS256 access token (at+jwt, the claims ours carries) from the same
/// JsonWebTokenHandler OpenIddict uses, and a JSON response; no OAuth server, database or logging around it. Run as a
/// child process of the benchmark (<c>floor-server</c>) so its CPU is counted alone, like the other servers'. A
/// practical lower bound: most of its CPU is the signature, the rest HTTP that no server can skip.
/// </summary>
internal static class FloorServer
{
    public const string Name = "floor";
    private const string ClientId = "floor-cc";

    public static async Task<ChildProcess> StartAsync(HttpClient http, IReadOnlyDictionary<string, string> serverEnvironment)
    {
        var port = ChildProcess.FreePort();
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("The benchmark's own path is unknown.");
        IEnumerable<string> arguments = ["floor-server", port.ToString(CultureInfo.InvariantCulture)];
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            arguments = arguments.Prepend(typeof(FloorServer).Assembly.Location);
        }

        // The same runtime settings as our server's: no dynamic PGO (IdentityServer.csproj), and --server-env.
        var environment = new Dictionary<string, string>(serverEnvironment) { ["DOTNET_TieredPGO"] = "0" };
        var child = ChildProcess.Start(Name, self, arguments, AppContext.BaseDirectory, environment, port);
        try
        {
            await child.WaitUntilReadyAsync(http, "/health", TimeSpan.FromSeconds(30));
            return child;
        }
        catch
        {
            await child.DisposeAsync();
            throw;
        }
    }

    public static Task<System.Text.Json.JsonElement> ClientCredentialsAsync(HttpClient http, ChildProcess server, CancellationToken cancellationToken) =>
        http.PostFormAsync(new Uri(server.BaseAddress, "/token"),
            [new("grant_type", "client_credentials"), new("scope", OurServer.Scope)], Http.Basic(ClientId, Secret), cancellationToken);

    // The secret only guards a throw-away loopback process; fixed so both processes know it without passing it around.
    private static string Secret => "floor-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

    public static async Task<int> RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        await using var app = builder.Build();

        using var rsa = RSA.Create(2048);
        var credentials = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = "floor-rs256" }, SecurityAlgorithms.RsaSha256);
        var tokens = new JsonWebTokenHandler();
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(ClientId + ":" + Secret));
        var issuer = $"http://127.0.0.1:{port}/";

        app.MapGet("/health", () => "ok");
        app.MapPost("/token", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync(context.RequestAborted);
            var basic = new byte[256];
            if (!AuthenticationHeaderValue.TryParse(context.Request.Headers.Authorization, out var header)
                || header.Scheme != "Basic" || header.Parameter is null
                || !Convert.TryFromBase64String(header.Parameter, basic, out var length)
                || !CryptographicOperations.FixedTimeEquals(SHA256.HashData(basic.AsSpan(0, length)), expected))
            {
                return Results.Json(new { error = "invalid_client" }, statusCode: StatusCodes.Status401Unauthorized);
            }

            if (form["grant_type"] != "client_credentials")
            {
                return Results.Json(new { error = "unsupported_grant_type" }, statusCode: StatusCodes.Status400BadRequest);
            }

            var scope = form["scope"].ToString();
            var now = DateTime.UtcNow;
            var token = tokens.CreateToken(new SecurityTokenDescriptor
            {
                Issuer = issuer,
                Audience = OurServer.Resource,
                TokenType = "at+jwt",
                IssuedAt = now,
                NotBefore = now,
                Expires = now.AddMinutes(5),
                SigningCredentials = credentials,
                Claims = new Dictionary<string, object>
                {
                    ["sub"] = ClientId,
                    ["client_id"] = ClientId,
                    ["scope"] = scope,
                    ["jti"] = Guid.NewGuid().ToString("N"),
                },
            });
            return Results.Json(new { access_token = token, token_type = "Bearer", expires_in = 300, scope });
        });

        await app.RunAsync();
        return 0;
    }
}
