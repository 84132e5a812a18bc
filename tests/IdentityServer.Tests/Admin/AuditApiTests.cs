using System.Net;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Admin;

public sealed class AuditApiTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    private async Task<List<JsonElement>> AuditAsync(string query)
    {
        var (status, body) = await tokens.AdminAsync(HttpMethod.Get, "/admin/audit?" + query);
        Assert.True(status == HttpStatusCode.OK, $"{status} {body}");
        return [.. body.GetProperty("items").EnumerateArray()];
    }

    [Fact]
    public async Task Logins_consents_refresh_token_reuse_and_admin_changes_are_queryable_security_events()
    {
        var username = AdminApi.Unique("audited");
        var userId = await tokens.RegisterUserAsync(username, "audited-password-1");
        var client = await tokens.RegisterCodeClientAsync(AdminApi.Unique("audited-app"), consentType: "explicit");
        var browser = new BrowserSession(factory);

        // A wrong password, then a real login with consent granted.
        await browser.SignInAsync("/account/login", username, "not-the-password");
        var pkce = Pkce.Create();
        await browser.SignInAsync(OAuthFlows.AuthorizeUrl(client, pkce), username, "audited-password-1");
        var callback = await browser.ClickAsync("accept");
        var (_, issued) = await tokens.RedeemCodeAsync(client, await OAuthFlows.CodeFromAsync(callback, client), pkce);
        var refreshToken = issued.GetProperty("refresh_token").GetString()!;
        await tokens.RefreshAsync(client, refreshToken);
        var (reuseStatus, _) = await tokens.RefreshAsync(client, refreshToken);
        Assert.Equal(HttpStatusCode.BadRequest, reuseStatus);

        var forUser = await AuditAsync("target=" + userId);
        var actions = forUser.Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("user.created", actions);
        Assert.Contains("login.failed", actions);
        Assert.Contains("login.succeeded", actions);

        var consent = Assert.Single(await AuditAsync("action=consent.granted&target=" + client.ClientId));
        Assert.Equal(userId, consent.GetProperty("actor").GetString());
        Assert.Single(await AuditAsync("action=refresh_token.reuse_detected&target=" + client.ClientId));

        var clientChanges = await AuditAsync("action=client.&target=" + client.ClientId);
        var created = Assert.Single(clientChanges);
        Assert.Equal(IdentityServerFactory.AdminClientId, created.GetProperty("actor").GetString());
        Assert.True(created.TryGetProperty("occurredAt", out _));
    }

    [Fact]
    public async Task Audit_events_come_newest_first_in_pages()
    {
        for (var i = 0; i < 3; i++)
        {
            await tokens.RegisterScopeAsync(AdminApi.Unique("audited-scope"));
        }

        var (status, body) = await tokens.AdminAsync(HttpMethod.Get, "/admin/audit?action=scope.created&page=1&pageSize=2");

        Assert.Equal(HttpStatusCode.OK, status);
        var items = body.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(2, items.Count);
        Assert.True(items[0].GetProperty("id").GetInt64() > items[1].GetProperty("id").GetInt64());
        Assert.True(body.GetProperty("total").GetInt32() >= 3);
    }

    [Fact]
    public async Task A_bad_page_size_is_a_400_keyed_by_pageSize()
    {
        var (status, body) = await tokens.AdminAsync(HttpMethod.Get, "/admin/audit?pageSize=1000");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(body.GetProperty("errors").TryGetProperty("pageSize", out _));
    }
}
