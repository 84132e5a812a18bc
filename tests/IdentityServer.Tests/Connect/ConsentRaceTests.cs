using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// Two browsers of one user accepting the same consent at once: one is held just before it stores its remembered
/// consent while the other accepts and stores its own.
/// </summary>
public sealed class ConsentRaceTests(ClientDeletedDuringAuthorizationTests.HeldAuthorizationFactory factory)
    : IClassFixture<ClientDeletedDuringAuthorizationTests.HeldAuthorizationFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Two_browsers_accepting_the_same_consent_at_once_leave_one_remembered_consent_and_both_get_a_code()
    {
        var client = await tokens.RegisterCodeClientAsync("consent-race", consentType: "explicit");
        var userId = await tokens.RegisterUserAsync("judy", "judy-password-1");
        var first = new BrowserSession(factory);
        var second = new BrowserSession(factory);
        await first.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "judy", "judy-password-1");
        await second.SignInAsync(OAuthFlows.AuthorizeUrl(client, Pkce.Create()), "judy", "judy-password-1");
        HttpResponseMessage? secondAnswer = null;

        // The first is held after finding no remembered consent, just before storing its own; the second accepts meanwhile.
        var firstAnswer = await factory.Hold("grant").AroundAsync(
            () => first.ClickAsync("accept"), async () => secondAnswer = await second.ClickAsync("accept"));

        await OAuthFlows.CodeFromAsync(firstAnswer, client);
        await OAuthFlows.CodeFromAsync(secondAnswer!, client);
        var (status, consents) = await tokens.AdminAsync(HttpMethod.Get, $"/admin/users/{userId}/consents");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Single(consents.EnumerateArray());
    }
}
