using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IdentityServer.Tests.Hosting;

public class CapturedLogsFactory : IdentityServerFactory
{
    public CapturingLoggerProvider Logs { get; } = new();

    public CapturedLogsFactory()
    {
        With("Logging:LogLevel:Default", "Trace");
        With("Logging:LogLevel:OpenIddict", "Trace");
        // More specific rules than the server's own filter: a category below OpenIddict, and one provider's default.
        With("Logging:LogLevel:OpenIddict.Server", "Trace");
        With("Logging:LogLevel:OpenIddict.Validation", "Trace");
        With($"Logging:{typeof(CapturingLoggerProvider).FullName}:LogLevel:Default", "Trace");
        With("Logging:LogLevel:Microsoft", "Trace");
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureLogging(logging => logging.AddProvider(Logs).SetMinimumLevel(LogLevel.Trace));
    }
}

public sealed class SecretsInLogsTests(CapturedLogsFactory factory) : IClassFixture<CapturedLogsFactory>
{
    [Fact]
    public async Task No_password_secret_token_or_code_ever_reaches_the_logs()
    {
        var tokens = new TokenClient(factory);
        var secrets = new List<string> { IdentityServerFactory.AdminClientSecret, IdentityServerFactory.AdminPassword };

        var adminToken = await tokens.AdminTokenAsync();
        secrets.Add(adminToken);

        const string password = "log-watch-password-1";
        secrets.Add(password);
        await tokens.RegisterUserAsync("log-watcher", password);
        var client = await tokens.RegisterCodeClientAsync("log-watch-app", extraGrantTypes: ["password"]);
        secrets.Add(client.Secret!);

        var pkce = Pkce.Create();
        secrets.Add(pkce.Verifier);
        var browser = new BrowserSession(factory);
        var callback = await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), "log-watcher", password);
        var code = await OAuthFlows.CodeFromAsync(callback, client);
        secrets.Add(code);

        var (_, issued) = await tokens.RedeemCodeAsync(client, code, pkce);
        var refreshToken = issued.GetProperty("refresh_token").GetString()!;
        secrets.AddRange([issued.GetProperty("access_token").GetString()!, issued.GetProperty("id_token").GetString()!, refreshToken]);

        var (_, refreshed) = await tokens.RefreshAsync(client, refreshToken);
        secrets.Add(refreshed.GetProperty("refresh_token").GetString()!);
        await tokens.RefreshAsync(client, refreshToken); // reuse: logged as an incident, still without the token
        await tokens.IntrospectAsync(refreshed.GetProperty("access_token").GetString()!, client.ClientId, client.Secret!);

        await tokens.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["username"] = "log-watcher",
            ["password"] = password,
            ["scope"] = "openid",
        }, client.ClientId, client.Secret);
        await browser.SignInAsync("/account/login", "log-watcher", "wrong-password-typed-here");
        secrets.Add("wrong-password-typed-here");

        var lines = factory.Logs.Lines.ToList();
        Assert.NotEmpty(lines);
        foreach (var secret in secrets)
        {
            var leak = lines.FirstOrDefault(line => line.Contains(secret, StringComparison.Ordinal));
            Assert.True(leak is null, $"a secret reached the logs: {leak}");
        }
    }
}
