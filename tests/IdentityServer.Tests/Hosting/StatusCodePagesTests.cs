using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Hosting;

public sealed class StatusCodePagesTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private const string BrowserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    [Theory]
    [InlineData("/account/logout")]
    [InlineData("/no-such-page")]
    public async Task A_browser_opening_an_address_with_no_page_sees_a_not_found_page_in_the_sites_style(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Accept", BrowserAccept);

        using var response = await factory.CreateClient().SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("<title>Page not found · IdentityServer</title>", page, StringComparison.Ordinal);
        Assert.Contains("id=\"not-found\"", page, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("application/json")]
    [InlineData("*/*")]
    public async Task A_program_asking_for_an_unknown_address_gets_problem_details(string? accept)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/no-such-endpoint");
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        using var response = await factory.CreateClient().SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"status\":404", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_browser_posting_to_an_unknown_address_gets_problem_details_not_a_page()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/no-such-endpoint") { Content = new FormUrlEncodedContent([]) };
        request.Headers.TryAddWithoutValidation("Accept", BrowserAccept);

        using var response = await factory.CreateClient().SendAsync(request);

        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, $"{response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
