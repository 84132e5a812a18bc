using System.Net;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Hosting;

public sealed class HealthTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task A_started_server_reports_healthy(string path)
    {
        using var response = await factory.CreateClient().GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Readiness_says_degraded_while_the_keys_cannot_be_re_read_and_healthy_once_they_are()
    {
        await using var server = new IdentityServerFactory();
        var http = server.CreateClient();
        Assert.Equal("Healthy", await http.GetStringAsync("/health/ready"));
        await MoveKeyTableAsync(server, away: true);   // every reload now fails

        server.Time.Advance(TimeSpan.FromMinutes(31));   // three reload intervals (10 minutes) missed
        using var degraded = await http.GetAsync("/health/ready");
        server.Time.Advance(TimeSpan.FromDays(3));       // past the two days a successor key is published ahead
        using var stillServing = await http.GetAsync("/health/ready");
        await MoveKeyTableAsync(server, away: false);
        await server.Services.GetRequiredService<IdentityServer.Keys.KeyRotation>().RefreshAsync(CancellationToken.None);
        using var recovered = await http.GetAsync("/health/ready");

        Assert.Equal((HttpStatusCode.OK, "Degraded"), (degraded.StatusCode, await degraded.Content.ReadAsStringAsync()));
        // Never unready for it: a failure every instance shares would take them all out while each can still serve.
        Assert.Equal((HttpStatusCode.OK, "Degraded"), (stillServing.StatusCode, await stillServing.Content.ReadAsStringAsync()));
        Assert.Equal((HttpStatusCode.OK, "Healthy"), (recovered.StatusCode, await recovered.Content.ReadAsStringAsync()));
    }

    private static async Task MoveKeyTableAsync(IdentityServerFactory server, bool away)
    {
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityServer.Persistence.ApplicationDbContext>();
        await db.Database.ExecuteSqlRawAsync(away
            ? "ALTER TABLE \"SigningKeys\" RENAME TO \"SigningKeysAway\""
            : "ALTER TABLE \"SigningKeysAway\" RENAME TO \"SigningKeys\"");
    }
}
