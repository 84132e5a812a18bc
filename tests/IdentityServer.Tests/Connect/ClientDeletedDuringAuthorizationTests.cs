using System.Net;
using AngleSharp.Html.Parser;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore;
using OpenIddict.EntityFrameworkCore.Models;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// An authorization request whose client an admin deletes while the server handles it: the browser gets the page an
/// unknown client gets (the client cannot be told any more), never a 500, and nothing is issued. Each case holds the
/// request at one point where it has used the client and is about to use it again.
/// </summary>
public sealed class ClientDeletedDuringAuthorizationTests(ClientDeletedDuringAuthorizationTests.HeldAuthorizationFactory factory)
    : IClassFixture<ClientDeletedDuringAuthorizationTests.HeldAuthorizationFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Theory]
    // OpenIddict has validated the client and its redirect_uri; the authorization page has not run yet.
    [InlineData("validated", false)]
    // The page has read the client and is about to link the grant that will tie the code to it.
    [InlineData("grant", false)]
    // The grant is linked to the client (read a moment ago) and about to be inserted: the database refuses the row.
    [InlineData("grant-insert", true)]
    // The grant is saved; the code is about to be made.
    [InlineData("sign-in", false)]
    // The code is made; its row, which names the client and the grant, is about to be saved: the database refuses it.
    [InlineData("save", true)]
    public async Task A_signed_in_user_whose_app_is_deleted_mid_request_sees_the_unknown_app_page_and_gets_no_code(
        string heldAt, bool databaseRefusesTheRow)
    {
        var client = await tokens.RegisterCodeClientAsync($"authorize-delete-{heldAt}");
        var username = $"authorize-delete-{heldAt}";
        var userId = await tokens.RegisterUserAsync(username, username + "-password");
        var browser = new BrowserSession(factory);
        await OAuthFlows.CodeFromAsync(await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), username, username + "-password"), client);
        var errorsBefore = factory.Logs.Lines.Count;

        using var response = await factory.Hold(heldAt).AroundAsync(
            () => browser.GoAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create())), () => DeleteClientAsync(client.ClientId));

        await AssertTheUnknownAppPageAsync(response);
        await AssertNothingValidIsLeftAsync(userId);
        // A row the database refuses (the deletion landed between the last look at the client and the INSERT) is
        // reported by EF Core itself at Error; the server's own handling logs nothing above Information.
        var errors = factory.Logs.Lines.Skip(errorsBefore).Where(line => line.StartsWith($"{LogLevel.Error} ", StringComparison.Ordinal)
            || line.StartsWith($"{LogLevel.Critical} ", StringComparison.Ordinal))
            .Where(line => !(databaseRefusesTheRow && line.StartsWith($"{LogLevel.Error} Microsoft.EntityFrameworkCore.", StringComparison.Ordinal)))
            .ToList();
        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors));
    }

    [Fact]
    public async Task A_user_accepting_consent_for_an_app_deleted_meanwhile_sees_the_unknown_app_page_and_no_consent_is_kept()
    {
        var client = await tokens.RegisterCodeClientAsync("authorize-delete-consent", consentType: "explicit");
        var userId = await tokens.RegisterUserAsync("authorize-delete-consent", "authorize-delete-consent-password");
        var browser = new BrowserSession(factory);
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "authorize-delete-consent", "authorize-delete-consent-password");
        Assert.NotNull(browser.Page?.GetElementById("accept"));

        // Held as the remembered consent is about to be saved.
        using var response = await factory.Hold("grant").AroundAsync(() => browser.ClickAsync("accept"), () => DeleteClientAsync(client.ClientId));

        await AssertTheUnknownAppPageAsync(response);
        await AssertNothingValidIsLeftAsync(userId);
    }

    private async Task AssertTheUnknownAppPageAsync(HttpResponseMessage response)
    {
        var unknown = new TestClient("no-such-app", null, "http://127.0.0.1:7000/no-such-app/callback", "http://127.0.0.1:7000/signed-out");
        using var expected = await factory.CreateClient(new() { AllowAutoRedirect = false }).GetAsync(OAuthFlows.AuthorizeUrl(unknown, Pkce.Create()));
        var expectedPage = new HtmlParser().ParseDocument(await expected.Content.ReadAsStringAsync());
        var html = await response.Content.ReadAsStringAsync();
        var page = new HtmlParser().ParseDocument(html);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {response.Headers.Location} {html}");
        Assert.Null(response.Headers.Location);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(expectedPage.GetElementById("error")?.TextContent, page.GetElementById("error")?.TextContent);
        Assert.Equal(expectedPage.GetElementById("error-description")?.TextContent, page.GetElementById("error-description")?.TextContent);
    }

    private async Task DeleteClientAsync(string clientId)
    {
        var (deleted, body) = await tokens.AdminAsync(HttpMethod.Delete, $"/admin/clients/{clientId}");
        Assert.True(deleted == HttpStatusCode.NoContent, body.ToString());
    }

    private async Task AssertNothingValidIsLeftAsync(string userId)
    {
        using var scope = factory.Services.CreateScope();
        var stored = scope.ServiceProvider.GetRequiredService<IOpenIddictTokenManager>();
        await foreach (var token in stored.FindBySubjectAsync(userId))
        {
            Assert.False(await stored.HasStatusAsync(token, Statuses.Valid), $"token {await stored.GetIdAsync(token)} is still valid");
        }

        var authorizations = scope.ServiceProvider.GetRequiredService<IOpenIddictAuthorizationManager>();
        await foreach (var authorization in authorizations.FindBySubjectAsync(userId))
        {
            Assert.False(await authorizations.HasStatusAsync(authorization, Statuses.Valid),
                $"authorization {await authorizations.GetIdAsync(authorization)} ({await authorizations.GetTypeAsync(authorization)}, client {await authorizations.GetApplicationIdAsync(authorization)}) is still valid");
        }
    }

    public sealed class HeldAuthorizationFactory : IdentityServerFactory
    {
        private readonly ServerHold afterValidation = new();
        private readonly ServerHold beforeGrant = new();
        private readonly ServerHold beforeGrantInsert = new();
        private readonly ServerHold atSignIn = new();
        private readonly ServerHold beforeSave = new();

        /// <summary>Error lines only: the server's Warning threshold for tests stays.</summary>
        public CapturingLoggerProvider Logs { get; } = new();

        public ServerHold Hold(string point) => point switch
        {
            "validated" => afterValidation,
            "grant" => beforeGrant,
            "grant-insert" => beforeGrantInsert,
            "sign-in" => atSignIn,
            "save" => beforeSave,
            _ => throw new ArgumentOutOfRangeException(nameof(point), point, null),
        };

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureLogging(logging => logging.AddProvider(Logs));
            builder.ConfigureTestServices(services =>
            {
                services.AddScoped<IOpenIddictAuthorizationStore<OpenIddictEntityFrameworkCoreAuthorization>>(provider => new HeldAuthorizationStore(
                    provider.GetRequiredService<IMemoryCache>(), provider.GetRequiredService<IOpenIddictEntityFrameworkCoreContext>(),
                    provider.GetRequiredService<IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions>>(), beforeGrant, beforeGrantInsert));
                services.AddOpenIddict().AddServer(server => server
                    .AddEventHandler<OpenIddictServerEvents.HandleAuthorizationRequestContext>(handler => handler
                        .UseInlineHandler(_ => new ValueTask(afterValidation.ArriveAsync()))
                        .SetOrder(int.MinValue)
                        .SetType(OpenIddictServerHandlerType.Custom))
                    .AddEventHandler<OpenIddictServerEvents.ProcessSignInContext>(handler => handler
                        .UseInlineHandler(context => context.EndpointType == OpenIddictServerEndpointType.Authorization
                            ? new ValueTask(atSignIn.ArriveAsync()) : default)
                        .SetOrder(int.MinValue)
                        .SetType(OpenIddictServerHandlerType.Custom))
                    .AddEventHandler<OpenIddictServerEvents.ProcessSignInContext>(handler => handler
                        .UseInlineHandler(context => context.EndpointType == OpenIddictServerEndpointType.Authorization
                            ? new ValueTask(beforeSave.ArriveAsync()) : default)
                        .SetOrder(IdentityServer.Connect.TokenWrites.Commit.Descriptor.Order - 1)
                        .SetType(OpenIddictServerHandlerType.Custom)));
            });
        }
    }

    /// <summary>
    /// Saves authorizations (grants, remembered consents) as the server does, waiting while the test holds it before
    /// it reads the client to link the authorization to, or before it inserts the row.
    /// </summary>
    private sealed class HeldAuthorizationStore(
        IMemoryCache cache, IOpenIddictEntityFrameworkCoreContext context, IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions> options,
        ServerHold beforeLink, ServerHold beforeInsert) : OpenIddictEntityFrameworkCoreAuthorizationStore(cache, context, options)
    {
        public override async ValueTask SetApplicationIdAsync(
            OpenIddictEntityFrameworkCoreAuthorization authorization, string? identifier, CancellationToken cancellationToken)
        {
            await beforeLink.ArriveAsync();
            await base.SetApplicationIdAsync(authorization, identifier, cancellationToken);
        }

        public override async ValueTask CreateAsync(OpenIddictEntityFrameworkCoreAuthorization authorization, CancellationToken cancellationToken)
        {
            await beforeInsert.ArriveAsync();
            await base.CreateAsync(authorization, cancellationToken);
        }
    }
}
