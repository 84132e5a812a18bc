using System.Net;
using IdentityServer.ScaleOut.Tests.Infrastructure;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IdentityServer.ScaleOut.Tests;

/// <summary>
/// Any instance serves any request: Data Protection keys (cookies, anti-forgery), signing keys and OpenIddict's
/// tokens all live in the shared database, so no sticky sessions are needed.
/// </summary>
public sealed class ScaleOutTests(Cluster cluster) : IClassFixture<Cluster>, IDisposable
{
    private readonly Clients clients = new(cluster);

    [ScaleOutFact]
    public async Task A_login_whose_requests_alternate_between_instances_succeeds()
    {
        var client = await clients.RegisterCodeClientAsync("alternating-app");
        await clients.RegisterUserAsync("alice", "alice-password-1");

        // authorize@A, login page@B, form post@A, authorize@B, code redemption@A.
        var tokens = await clients.LogInAsync(client, "alice", "alice-password-1", cluster.A.BaseAddress, cluster.B.BaseAddress);

        Assert.False(string.IsNullOrEmpty(tokens.GetProperty("access_token").GetString()));
        Assert.False(string.IsNullOrEmpty(tokens.GetProperty("refresh_token").GetString()));
    }

    [ScaleOutFact]
    public async Task A_login_through_nginx_round_robin_succeeds()
    {
        var client = await clients.RegisterCodeClientAsync("balanced-app");
        await clients.RegisterUserAsync("carol", "carol-password-1");

        var tokens = await clients.LogInAsync(client, "carol", "carol-password-1", cluster.Public);

        Assert.False(string.IsNullOrEmpty(tokens.GetProperty("id_token").GetString()));
    }

    [ScaleOutFact]
    public async Task A_device_that_asked_B_is_approved_on_pages_alternating_between_instances_and_collects_its_tokens_at_B()
    {
        const string deviceGrant = "urn:ietf:params:oauth:grant-type:device_code";
        var created = await clients.AdminAsync(cluster.Public, "admin/clients", new
        {
            clientId = "cluster-tv", clientType = "confidential", grantTypes = new[] { deviceGrant }, scopes = new[] { "openid", "offline_access" },
        });
        var secret = created.GetProperty("clientSecret").GetString()!;
        await clients.RegisterUserAsync("dina", "dina-password-1");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(cluster.B.BaseAddress, "connect/device"))
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["scope"] = "openid offline_access" }),
        };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("cluster-tv:" + secret)));
        using var asked = await clients.Http.SendAsync(request);
        var device = await Clients.ReadJsonAsync(asked);
        Assert.True(asked.StatusCode == HttpStatusCode.OK, device.ToString());

        await clients.ApproveDeviceAsync(device.GetProperty("verification_uri_complete").GetString()!, "dina", "dina-password-1",
            cluster.A.BaseAddress, cluster.B.BaseAddress);
        var (status, tokens) = await clients.TokenAsync(cluster.B.BaseAddress, new Dictionary<string, string>
        {
            ["grant_type"] = deviceGrant, ["device_code"] = device.GetProperty("device_code").GetString()!,
        }, "cluster-tv", secret);

        Assert.True(status == HttpStatusCode.OK, $"poll at B: {status} {tokens}");
        Assert.False(string.IsNullOrEmpty(tokens.GetProperty("refresh_token").GetString()));
    }

    [ScaleOutFact]
    public async Task A_token_issued_by_A_validates_at_B_and_refreshes_at_B()
    {
        var client = await clients.RegisterCodeClientAsync("validating-app");
        await clients.RegisterUserAsync("bob", "bob-password-1");
        var tokens = await clients.LogInAsync(client, "bob", "bob-password-1", cluster.A.BaseAddress);
        var accessToken = tokens.GetProperty("access_token").GetString()!;

        // B's JWKS holds A's kid, and the signature checks out against it.
        var jwks = new JsonWebKeySet(await clients.Http.GetStringAsync(new Uri(cluster.B.BaseAddress, ".well-known/jwks")));
        var kid = new JsonWebToken(accessToken).Kid;
        Assert.Contains(jwks.Keys, key => key.Kid == kid);
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(accessToken, new TokenValidationParameters
        {
            ValidIssuer = cluster.Public.GetLeftPart(UriPartial.Authority),   // the configured issuer, as written
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidateAudience = false,
            ValidTypes = ["at+jwt"],
        });
        Assert.True(validation.IsValid, validation.Exception?.ToString());

        // B accepts it at userinfo, and redeems A's refresh token.
        using var userInfo = new HttpRequestMessage(HttpMethod.Get, new Uri(cluster.B.BaseAddress, "connect/userinfo"));
        userInfo.Headers.Authorization = new("Bearer", accessToken);
        using var userInfoResponse = await clients.Http.SendAsync(userInfo);
        Assert.Equal(HttpStatusCode.OK, userInfoResponse.StatusCode);
        var (status, refreshed) = await clients.RefreshAsync(cluster.B.BaseAddress, client, tokens.GetProperty("refresh_token").GetString()!);
        Assert.True(status == HttpStatusCode.OK, $"refresh at B: {status} {refreshed}");
    }

    [ScaleOutFact]
    public async Task A_refresh_token_used_at_A_and_reused_at_B_is_refused_and_the_chain_revoked()
    {
        var client = await clients.RegisterCodeClientAsync("reuse-app");
        await clients.RegisterUserAsync("dave", "dave-password-1");
        var tokens = await clients.LogInAsync(client, "dave", "dave-password-1", cluster.B.BaseAddress);
        var first = tokens.GetProperty("refresh_token").GetString()!;

        var (atA, rotated) = await clients.RefreshAsync(cluster.A.BaseAddress, client, first);
        var (reuseAtB, reuse) = await clients.RefreshAsync(cluster.B.BaseAddress, client, first);
        var (rotatedAtB, _) = await clients.RefreshAsync(cluster.B.BaseAddress, client, rotated.GetProperty("refresh_token").GetString()!);

        Assert.Equal(HttpStatusCode.OK, atA);
        Assert.Equal(HttpStatusCode.BadRequest, reuseAtB);
        Assert.Equal("invalid_grant", reuse.GetProperty("error").GetString());
        // The thief's use revoked the whole chain: the legitimate rotated token is dead too.
        Assert.Equal(HttpStatusCode.BadRequest, rotatedAtB);
    }

    [ScaleOutFact]
    public async Task A_client_deleted_at_A_gets_no_more_tokens_at_B_within_seconds()
    {
        const string secret = "deleted-at-a-secret-0123456789";
        await clients.AdminAsync(cluster.A.BaseAddress, "admin/clients", new
        {
            clientId = "deleted-at-a", clientType = "confidential", clientSecret = secret,
            grantTypes = new[] { "client_credentials" }, scopes = Array.Empty<string>(),
        });
        var grant = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };
        // B now holds the client in memory.
        Assert.Equal(HttpStatusCode.OK, (await clients.TokenAsync(cluster.B.BaseAddress, grant, "deleted-at-a", secret)).Status);

        var (deleted, _) = await clients.AdminAsync(cluster.A.BaseAddress, HttpMethod.Delete, "admin/clients/deleted-at-a");
        Assert.Equal(HttpStatusCode.NoContent, deleted);

        // Each instance reads the registrations' version once a second: B learns of it at its next read, not when its
        // 30-second cache expires. Asked until refused, for at most 5 s of real time.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var status = HttpStatusCode.OK;
        while (clock.Elapsed < TimeSpan.FromSeconds(5)
            && (status = (await clients.TokenAsync(cluster.B.BaseAddress, grant, "deleted-at-a", secret)).Status) == HttpStatusCode.OK)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }

        // A 500 here was a request that found the client, then found it gone mid-request (ClientDeletedDuringTokenRequestTests).
        Assert.True(status == HttpStatusCode.Unauthorized, $"{status}{Environment.NewLine}B's log:{Environment.NewLine}{cluster.B.Output}");
    }

    public void Dispose() => clients.Dispose();
}
