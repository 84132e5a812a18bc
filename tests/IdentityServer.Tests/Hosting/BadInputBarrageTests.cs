using System.Net.Http.Headers;
using System.Text;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Hosting;

/// <summary>
/// Thousands of generated malformed requests against every endpoint and page. Nothing may answer 5xx or show
/// exception text, nothing may be written, and the server must answer normally afterwards.
/// </summary>
public sealed class BadInputBarrageTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private const int Requests = 3000;

    private static readonly string[] Targets =
    [
        "GET /connect/authorize", "POST /connect/authorize", "POST /connect/token", "GET /connect/token",
        "GET /connect/userinfo", "POST /connect/userinfo", "POST /connect/introspect", "POST /connect/revoke",
        "GET /connect/endsession", "POST /connect/endsession", "GET /.well-known/openid-configuration", "GET /.well-known/jwks",
        "GET /account/login", "POST /account/login", "GET /account/register", "POST /account/register",
        "POST /admin/clients", "PUT /admin/clients/x", "GET /admin/users", "POST /admin/users", "POST /admin/scopes",
        "DELETE /admin/users/1", "POST /admin/users/1/password", "GET /",
    ];

    private static readonly string[] ParameterNames =
    [
        "client_id", "client_secret", "grant_type", "code", "redirect_uri", "response_type", "scope", "state", "nonce",
        "code_challenge", "code_challenge_method", "code_verifier", "refresh_token", "token", "token_type_hint", "prompt",
        "max_age", "id_token_hint", "post_logout_redirect_uri", "username", "password", "ReturnUrl", "Username", "Password",
        "Input.Username", "Input.Email", "Input.Password", "Input.ConfirmPassword", "__RequestVerificationToken", "consent", "request", "request_uri",
    ];

    private static readonly string[] Nasty =
    [
        "' OR '1'='1' --", "\"; DROP TABLE AspNetUsers; --", "<script>alert(1)</script>", "%00", "%zz%", "\u0000", "../../etc/passwd",
        "http://evil.example/", "javascript:alert(1)", "{\"a\":", "[]", "-1", "99999999999999999999", "0", "NaN", "S256", "plain",
        "code", "token id_token", "openid", "none login consent create", "authorization_code", "refresh_token", "client_credentials",
        "password", "admin-cli", "!!!not-base64!!!", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "\ud800", "𝕏😀", "",
    ];

    [Fact]
    public async Task Thousands_of_malformed_requests_get_no_5xx_no_exception_text_and_change_nothing()
    {
        var client = factory.CreateClient(new() { AllowAutoRedirect = false });
        var before = await CountRowsAsync();
        var random = new Random(20261125);
        var failures = new List<string>();

        for (var i = 0; i < Requests; i++)
        {
            var target = Targets[random.Next(Targets.Length)].Split(' ');
            using var request = Build(random, new HttpMethod(target[0]), target[1]);
            var description = $"{request.Method} {request.RequestUri}";
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            if ((int)response.StatusCode >= 500)
            {
                failures.Add($"{(int)response.StatusCode} for {Truncate(description)}: {Truncate(body)}");
            }
            else if (body.Contains("Exception", StringComparison.Ordinal) || body.Contains("   at ", StringComparison.Ordinal))
            {
                failures.Add($"exception text for {Truncate(description)}: {Truncate(body)}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.Equal(before, await CountRowsAsync());

        // Still serving normally.
        var tokens = new TokenClient(factory);
        await tokens.AdminTokenAsync();
        using var discovery = await client.GetAsync("/.well-known/openid-configuration");
        Assert.True(discovery.IsSuccessStatusCode);
    }

    private static HttpRequestMessage Build(Random random, HttpMethod method, string path)
    {
        var parameters = new List<KeyValuePair<string, string>>();
        var count = random.Next(0, 8);
        for (var p = 0; p < count; p++)
        {
            var name = random.Next(10) == 0 ? Garbage(random, random.Next(1, 300)) : ParameterNames[random.Next(ParameterNames.Length)];
            parameters.Add(new(name, Value(random)));
            if (random.Next(6) == 0)
            {
                parameters.Add(new(name, Value(random))); // duplicated parameter
            }
        }

        var query = string.Join('&', parameters.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value)));
        var request = new HttpRequestMessage(method, method == HttpMethod.Get || random.Next(4) == 0 ? $"{path}?{Truncate(query, 6000)}" : path);

        if (method != HttpMethod.Get)
        {
            request.Content = random.Next(6) switch
            {
                0 => new ByteArrayContent([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, .. Encoding.UTF8.GetBytes(query)]) // invalid UTF-8
                {
                    Headers = { ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded") },
                },
                1 => new StringContent("{\"clientId\": " + Value(random) + ", \"grantTypes\": [" + Value(random), Encoding.UTF8, "application/json"),
                2 => new StringContent(query, Encoding.UTF8, random.Next(2) == 0 ? "text/xml" : "multipart/form-data"),
                3 => new StringContent("{\"username\":\"" + Value(random).Replace("\"", "", StringComparison.Ordinal) + "\",\"password\":123,\"roles\":{}}", Encoding.UTF8, "application/json"),
                _ => new FormUrlEncodedContent(parameters),
            };
        }

        switch (random.Next(5))
        {
            case 0:
                request.Headers.TryAddWithoutValidation("Authorization", "Basic " + Value(random));
                break;
            case 1:
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + Value(random));
                break;
            case 2:
                request.Headers.TryAddWithoutValidation("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(Value(random) + ":" + Value(random))));
                break;
        }

        if (random.Next(8) == 0)
        {
            request.Headers.TryAddWithoutValidation("Origin", Value(random));
        }

        return request;
    }

    private static string Value(Random random) => random.Next(12) switch
    {
        0 => new string('A', 100 * 1024), // 100 KB
        1 => Garbage(random, random.Next(1, 2000)),
        2 => Convert.ToBase64String(Encoding.UTF8.GetBytes(Garbage(random, 40))) + "%%==",
        _ => Nasty[random.Next(Nasty.Length)],
    };

    private static string Garbage(Random random, int length)
    {
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = (char)random.Next(0x20, 0x2FF);
        }

        return new string(chars);
    }

    private static string Truncate(string value, int max = 300) => value.Length <= max ? value : value[..max];

    private async Task<string> CountRowsAsync()
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ApplicationDbContext>();
        return string.Join(",",
            await db.Users.CountAsync(),
            await db.Roles.CountAsync(),
            await db.Set<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreApplication>().CountAsync(),
            await db.Set<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreScope>().CountAsync(),
            await db.Set<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreAuthorization>().CountAsync(),
            await db.Set<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreToken>().CountAsync(),
            await db.Users.SumAsync(u => u.AccessFailedCount),
            await db.AuditEvents.CountAsync());
    }
}
