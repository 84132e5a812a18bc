using System.Net;
using IdentityServer.Connect;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenIddict.Server;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// A token request whose client an admin deletes through another instance while this one handles it, this instance
/// learning of it (its next poll) in the middle of the request: the client gets an answer, never a 500. Each case holds
/// the request just before or just after its last look at the client before tokens are made.
/// </summary>
public sealed class ClientDeletedDuringTokenRequestTests(ClientDeletedDuringTokenRequestTests.HeldTokenRequestFactory factory)
    : IClassFixture<ClientDeletedDuringTokenRequestTests.HeldTokenRequestFactory>
{
    private readonly TokenClient tokens = new(factory);

    // Each test is a new instance: only what the server logged during this test counts.
    private readonly int logsBefore = factory.Logs.Lines.Count;

    [Fact]
    public async Task A_service_whose_client_is_deleted_before_its_tokens_are_made_gets_invalid_client()
    {
        var secret = await RegisterServiceAsync("token-delete-before");

        var (status, body) = await factory.BeforeLastLook.AroundAsync(
            () => tokens.TokenAsync(ClientCredentials, "token-delete-before", secret), () => DeleteElsewhereAsync("token-delete-before"));

        Assert.True(status == HttpStatusCode.Unauthorized, $"{status} {body}");
        Assert.Equal("invalid_client", body.GetProperty("error").GetString());
        AssertNoServerErrorLogged();
    }

    [Fact]
    public async Task A_service_whose_client_is_deleted_after_the_last_look_gets_its_token_which_then_introspects_as_inactive()
    {
        var secret = await RegisterServiceAsync("token-delete-after");

        var (status, body) = await factory.AfterLastLook.AroundAsync(
            () => tokens.TokenAsync(ClientCredentials, "token-delete-after", secret), () => DeleteElsewhereAsync("token-delete-after"));

        // Issued as if the request had finished a moment before the deletion, which it had checked for.
        Assert.True(status == HttpStatusCode.OK, $"{status} {body}");
        var introspector = await RegisterServiceAsync("token-delete-after-api");
        var introspection = await tokens.IntrospectAsync(body.GetProperty("access_token").GetString()!, "token-delete-after-api", introspector);
        Assert.False(introspection.GetProperty("active").GetBoolean());
        Assert.Equal(HttpStatusCode.Unauthorized, (await tokens.TokenAsync(ClientCredentials, "token-delete-after", secret)).Status);
        AssertNoServerErrorLogged();
    }

    [Fact]
    public async Task A_refresh_whose_client_is_deleted_after_the_last_look_is_refused_as_invalid_grant()
    {
        var (client, refreshToken) = await tokens.SignedInUserAsync(factory, "token-delete-refresh", "token-delete-refresh");

        var (status, body) = await factory.AfterLastLook.AroundAsync(
            () => tokens.RefreshAsync(client, refreshToken), () => DeleteElsewhereAsync(client.ClientId));

        Assert.True(status == HttpStatusCode.BadRequest, $"{status} {body}");
        Assert.Equal("invalid_grant", body.GetProperty("error").GetString());
        // The database refused the new tokens' rows (they name the deleted client): EF Core reports that itself.
        AssertNoServerErrorLogged(exceptEntityFramework: true);
    }

    private static Dictionary<string, string> ClientCredentials => new() { ["grant_type"] = "client_credentials" };

    private async Task<string> RegisterServiceAsync(string clientId) =>
        (await tokens.RegisterClientAsync(new
        {
            clientId, clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>(),
        }))!;

    /// <summary>Deleted by an admin through another instance; this one learns of it at its next poll, here and now.</summary>
    private async Task DeleteElsewhereAsync(string clientId)
    {
        await using var other = new IdentityServer.Tests.Admin.SecondHost(factory);
        var (status, body) = await new TokenClient(other).AdminAsync(HttpMethod.Delete, $"/admin/clients/{clientId}");
        Assert.True(status == HttpStatusCode.NoContent, body.ToString());
        var polled = factory.Services.GetRequiredService<RegistrationChanges>().NextPollAsync();
        factory.Time.Advance(RegistrationChanges.PollInterval);
        await polled.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private void AssertNoServerErrorLogged(bool exceptEntityFramework = false)
    {
        var errors = factory.Logs.Lines.Skip(logsBefore)
            .Where(line => line.StartsWith($"{LogLevel.Error} ", StringComparison.Ordinal) || line.StartsWith($"{LogLevel.Critical} ", StringComparison.Ordinal))
            .Where(line => !(exceptEntityFramework && line.StartsWith($"{LogLevel.Error} Microsoft.EntityFrameworkCore.", StringComparison.Ordinal)))
            .ToList();
        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors));
    }

    public sealed class HeldTokenRequestFactory : IdentityServerFactory
    {
        public ServerHold BeforeLastLook { get; } = new();

        public ServerHold AfterLastLook { get; } = new();

        public CapturingLoggerProvider Logs { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureLogging(logging => logging.AddProvider(Logs));
            builder.ConfigureTestServices(services => services.AddOpenIddict().AddServer(server => server
                .AddEventHandler<OpenIddictServerEvents.ProcessSignInContext>(handler => handler
                    .UseInlineHandler(context => context.EndpointType == OpenIddictServerEndpointType.Token
                        ? new ValueTask(BeforeLastLook.ArriveAsync()) : default)
                    .SetOrder(RefuseDeletedClient.Descriptor.Order - 1)
                    .SetType(OpenIddictServerHandlerType.Custom))
                .AddEventHandler<OpenIddictServerEvents.ProcessSignInContext>(handler => handler
                    .UseInlineHandler(context => context.EndpointType == OpenIddictServerEndpointType.Token
                        ? new ValueTask(AfterLastLook.ArriveAsync()) : default)
                    .SetOrder(RefuseDeletedClient.Descriptor.Order + 1)
                    .SetType(OpenIddictServerHandlerType.Custom))));
        }
    }
}
