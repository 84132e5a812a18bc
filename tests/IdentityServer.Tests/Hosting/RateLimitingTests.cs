using System.Net;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Hosting;

public sealed class LowRateLimitsFactory : IdentityServerFactory
{
    public LowRateLimitsFactory()
    {
        With("RateLimits:PagePostsPerIp", "3");
        With("RateLimits:ProtocolRequestsPerClient", "3");
        // A window longer than any test run: the count cannot reset half-way.
        With("RateLimits:Window", "01:00:00");
    }
}

public sealed class RateLimitingTests(LowRateLimitsFactory factory) : IClassFixture<LowRateLimitsFactory>
{
    [Fact]
    public async Task Hammering_the_login_page_gets_429_with_retry_after()
    {
        var browser = new BrowserSession(factory);
        var statuses = new List<HttpStatusCode>();
        for (var attempt = 0; attempt < 4; attempt++)
        {
            await browser.GoAsync("/account/login");
            using var response = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "someone", ["password"] = "guess-" + attempt });
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.True(response.Headers.RetryAfter is not null, "429 without Retry-After");
            }
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task A_client_over_its_token_budget_gets_429_with_an_oauth_error_body()
    {
        var tokens = new TokenClient(factory);
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin" };
        var results = new List<HttpStatusCode>();
        for (var attempt = 0; attempt < 4; attempt++)
        {
            var (status, body) = await tokens.TokenAsync(form, "limited-client", "wrong-secret-value");
            results.Add(status);
            if (status == HttpStatusCode.TooManyRequests)
            {
                Assert.Equal("temporarily_unavailable", body.GetProperty("error").GetString());
            }
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, results[^1]);
        Assert.All(results.Take(3), status => Assert.Equal(HttpStatusCode.Unauthorized, status));
    }
}

public sealed class RateLimitPageTests(LowRateLimitsFactory factory) : IClassFixture<LowRateLimitsFactory>
{
    [Fact]
    public async Task A_person_over_the_login_limit_reads_a_page_saying_how_long_to_wait_and_a_program_gets_problem_details()
    {
        var browser = new BrowserSession(factory);
        browser.Http.DefaultRequestHeaders.Accept.ParseAdd("text/html,application/xhtml+xml,*/*;q=0.8");
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await browser.GoAsync("/account/login");
            using var allowed = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "someone", ["password"] = "guess-" + attempt });
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        }

        await browser.GoAsync("/account/login");
        using var refused = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "someone", ["password"] = "guess-3" });

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("text/html", refused.Content.Headers.ContentType?.MediaType);
        var seconds = (int)refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds;
        Assert.Contains($"Wait up to {seconds} seconds", browser.Page!.GetElementById("too-many-attempts")!.TextContent, StringComparison.Ordinal);

        using var program = await factory.CreateClient().PostAsync("/account/register", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.TooManyRequests, program.StatusCode);
        Assert.Equal("application/problem+json", program.Content.Headers.ContentType?.MediaType);
    }
}

/// <summary>Real limits, with every request arriving from 127.0.0.1 as on a developer's machine or a local test run.</summary>
public sealed class LoopbackLowRateLimitsFactory : IdentityServerFactory
{
    public LoopbackLowRateLimitsFactory()
    {
        With("RateLimits:PagePostsPerIp", "2");
        With("RateLimits:Window", "01:00:00");
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.AddTransient<IStartupFilter, FromLoopback>());
    }

    private sealed class FromLoopback : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((HttpContext context, RequestDelegate nextMiddleware) =>
            {
                context.Connection.RemoteIpAddress = IPAddress.Loopback;
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}

public sealed class LoopbackRateLimitingTests(LoopbackLowRateLimitsFactory factory) : IClassFixture<LoopbackLowRateLimitsFactory>
{
    [Fact]
    public async Task Logins_from_loopback_are_not_limited_per_address()
    {
        var browser = new BrowserSession(factory);
        for (var attempt = 0; attempt < 4; attempt++)
        {
            await browser.GoAsync("/account/login");
            using var response = await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "someone", ["password"] = "guess-" + attempt });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }
}

/// <summary>The limits cannot be stepped around by the way a request is written, nor turned against a client.</summary>
public sealed class RateLimitEvasionTests(LowRateLimitsFactory factory) : IClassFixture<LowRateLimitsFactory>
{
    [Fact]
    public async Task A_trailing_slash_does_not_step_around_the_login_limit_or_the_token_limit()
    {
        var http = factory.CreateClient(new() { AllowAutoRedirect = false });
        var logins = new List<HttpStatusCode>();
        var tokens = new List<HttpStatusCode>();
        for (var attempt = 0; attempt < 4; attempt++)
        {
            using var login = await http.PostAsync("/account/login/", new FormUrlEncodedContent(new Dictionary<string, string> { ["Username"] = "x", ["Password"] = "y" }));
            logins.Add(login.StatusCode);
            using var token = new HttpRequestMessage(HttpMethod.Post, "/connect/token/")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }),
            };
            token.Headers.Authorization = TokenClient.Basic("slash-client", "same-wrong-secret");
            using var tokenResponse = await http.SendAsync(token);
            tokens.Add(tokenResponse.StatusCode);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, logins[^1]);
        Assert.Equal(HttpStatusCode.TooManyRequests, tokens[^1]);
    }

    [Fact]
    public async Task Requests_with_wrong_secrets_do_not_use_up_the_real_clients_budget()
    {
        var tokens = new TokenClient(factory);
        var secret = await tokens.RegisterClientAsync(new { clientId = "victim-client", clientType = "confidential", grantTypes = new[] { "client_credentials" } });
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };
        for (var attempt = 0; attempt < 4; attempt++)
        {
            await tokens.TokenAsync(form, "victim-client", "guess-" + attempt);
        }

        var (status, body) = await tokens.TokenAsync(form, "victim-client", secret);

        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {body}");
    }
}

/// <summary>Real limits on the password grant, with the other budgets left at their defaults.</summary>
public sealed class LowPasswordGuessLimitFactory : IdentityServerFactory
{
    public LowPasswordGuessLimitFactory()
    {
        With("RateLimits:PagePostsPerIp", "3");
        With("RateLimits:Window", "01:00:00");
    }
}

public sealed class PasswordGrantLimitTests(LowPasswordGuessLimitFactory factory) : IClassFixture<LowPasswordGuessLimitFactory>
{
    [Fact]
    public async Task Guessing_passwords_through_the_password_grant_is_limited_like_the_login_page()
    {
        var tokens = new TokenClient(factory);
        var client = await tokens.RegisterCodeClientAsync("password-guesser", isPublic: true, extraGrantTypes: ["password"]);
        var gina = await tokens.RegisterUserAsync("gina", "gina-password-1");
        var results = new List<(HttpStatusCode Status, System.Text.Json.JsonElement Body)>();
        for (var attempt = 0; attempt < 4; attempt++)
        {
            results.Add(await tokens.TokenAsync(new Dictionary<string, string>
            {
                ["grant_type"] = "password",
                ["client_id"] = client.ClientId,
                ["username"] = "gina",
                ["password"] = "guess-" + attempt,
            }));
        }

        Assert.All(results.Take(3), result => ProtocolHelpers.AssertOAuthError(result, HttpStatusCode.BadRequest, "invalid_grant"));
        ProtocolHelpers.AssertOAuthError(results[3], HttpStatusCode.TooManyRequests, "temporarily_unavailable");
        var audit = await new IdentityServer.Tests.Admin.AdminApi(factory).GetAsync($"/admin/audit?action=login.failed&target={gina}");
        Assert.Equal(3, audit.Json.GetProperty("items").GetArrayLength());
    }
}

public sealed class PasswordGrantSuccessLimitTests(LowPasswordGuessLimitFactory factory) : IClassFixture<LowPasswordGuessLimitFactory>
{
    [Fact]
    public async Task Successful_password_grants_from_one_address_are_not_counted_against_the_guessing_budget()
    {
        var tokens = new TokenClient(factory);
        var client = await tokens.RegisterCodeClientAsync("password-backend", extraGrantTypes: ["password"]);
        await tokens.RegisterUserAsync("bruno", "bruno-password-1");

        for (var signIn = 0; signIn < 5; signIn++)
        {
            var (status, body) = await tokens.TokenAsync(new Dictionary<string, string>
            {
                ["grant_type"] = "password", ["username"] = "bruno", ["password"] = "bruno-password-1", ["scope"] = "openid",
            }, client.ClientId, client.Secret);
            Assert.True(status == HttpStatusCode.OK, $"sign-in {signIn + 1}: {(int)status} {body}");
        }
    }
}

public sealed class DeviceCodeGuessingTests(LowRateLimitsFactory factory) : IClassFixture<LowRateLimitsFactory>
{
    [Fact]
    public async Task Trying_user_codes_one_after_another_on_the_verification_page_gets_429()
    {
        var tokens = new TokenClient(factory);
        await tokens.RegisterUserAsync("gus", "gus-password-1");
        var browser = new BrowserSession(factory);
        await browser.GoAsync("/connect/verify");
        await browser.ClickAsync("login", new Dictionary<string, string> { ["username"] = "gus", ["password"] = "gus-password-1" });

        var statuses = new List<HttpStatusCode>();
        for (var guess = 0; guess < 3; guess++)
        {
            using var response = await browser.GoAsync($"/connect/verify?user_code=1111-2222-000{guess}");
            statuses.Add(response.StatusCode);
        }

        // The sign-in was the first post of this address's three.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
    }
}
