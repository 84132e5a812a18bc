using System.Net;
using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// The token rows of a sign-in are saved together at its end. One refused after its tokens were generated must leave
/// nothing behind for a later save in the same request to write: the refresh token it presented stays usable.
/// </summary>
public sealed class TokenWritesTests(TokenWritesTests.LateRefusalFactory factory) : IClassFixture<TokenWritesTests.LateRefusalFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task A_refresh_refused_after_its_tokens_were_made_leaves_the_refresh_token_usable()
    {
        var (client, refreshToken) = await tokens.SignedInUserAsync(factory, "late-refusal", "late1");

        factory.RefuseNextRefresh = true;
        var (refused, refusedBody) = await tokens.RefreshAsync(client, refreshToken);

        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Equal(Errors.InvalidRequest, refusedBody.GetProperty("error").GetString());
        var (again, againBody) = await tokens.RefreshAsync(client, refreshToken);
        Assert.True(again == HttpStatusCode.OK, againBody.ToString());
    }

    public sealed class LateRefusalFactory : IdentityServerFactory
    {
        public volatile bool RefuseNextRefresh;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddOpenIddict().AddServer(server =>
            {
                // Refuses a refresh once its new tokens exist, before they are saved.
                server.AddEventHandler<OpenIddictServerEvents.ProcessSignInContext>(handler => handler
                    .UseInlineHandler(context =>
                    {
                        if (context.Request.IsRefreshTokenGrantType() && RefuseNextRefresh)
                        {
                            context.Reject(error: Errors.InvalidRequest, description: "Refused late, for the test.");
                        }

                        return default;
                    })
                    .SetOrder(OpenIddictServerHandlers.GenerateIdentityToken.Descriptor.Order + 1)
                    .SetType(OpenIddictServerHandlerType.Custom));

                // Something that saves later in the same request, as an audit record would.
                server.AddEventHandler<OpenIddictServerEvents.ApplyTokenResponseContext>(handler => handler
                    .UseInlineHandler(async context =>
                    {
                        if (RefuseNextRefresh && context.Transaction.GetHttpRequest() is { } request)
                        {
                            RefuseNextRefresh = false;
                            await request.HttpContext.RequestServices.GetRequiredService<ApplicationDbContext>().SaveChangesAsync();
                        }
                    })
                    .SetType(OpenIddictServerHandlerType.Custom));
            }));
        }
    }
}
