using Microsoft.Extensions.Logging;

namespace IdentityServer.Tests.Hosting;

public sealed class PageLogsTests(CapturedLogsFactory factory) : IClassFixture<CapturedLogsFactory>
{
    [Theory]
    [InlineData("/account/login")]
    [InlineData("/account/register")]
    [InlineData("/account/signout?post_logout_redirect_uri=x")]
    public async Task Showing_a_page_with_a_form_logs_no_warning_and_tells_caches_not_to_keep_it(string path)
    {
        var client = factory.CreateClient();
        (await client.GetAsync("/account/login")).Dispose(); // start-up's own warnings (a data-protection key made) come first
        var before = factory.Logs.Lines.Count;

        using var response = await client.GetAsync(path);

        response.EnsureSuccessStatusCode();
        Assert.True(response.Headers.CacheControl?.NoStore, response.Headers.ToString());
        var warnings = factory.Logs.Lines.Skip(before).Where(line => line.StartsWith($"{LogLevel.Warning} ", StringComparison.Ordinal)
            || line.StartsWith($"{LogLevel.Error} ", StringComparison.Ordinal)).ToList();
        Assert.True(warnings.Count == 0, string.Join(Environment.NewLine, warnings));
    }
}
