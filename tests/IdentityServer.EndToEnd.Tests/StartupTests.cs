using System.Net;
using System.Text.RegularExpressions;
using IdentityServer.EndToEnd.Tests.Infrastructure;

namespace IdentityServer.EndToEnd.Tests;

/// <summary>The server started the way the README says: from the repository root, not from its project folder.</summary>
public sealed partial class StartupTests
{
    [Fact]
    public async Task Started_from_another_folder_the_server_serves_its_styled_pages_and_keeps_its_data_in_that_folder()
    {
        var folder = Directory.CreateTempSubdirectory("identityserver-cwd-").FullName;
        try
        {
            await using var server = HostProcess.Start("src/IdentityServer", HostProcess.FreePort(), new Dictionary<string, string>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
            }, workingDirectory: folder);
            await server.WaitUntilHealthyAsync("/health/ready", TimeSpan.FromSeconds(90));
            using var http = new HttpClient { BaseAddress = server.BaseAddress };

            var page = await http.GetStringAsync("/account/login");
            var stylesheet = StylesheetLink().Match(page);
            Assert.True(stylesheet.Success, page);
            using var css = await http.GetAsync(stylesheet.Groups["href"].Value);

            Assert.Equal(HttpStatusCode.OK, css.StatusCode);
            Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);
            Assert.Contains("button.primary", await css.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            // The default SQLite file is ./data/ of where it was started (the contract's "SQLite in ./data/").
            Assert.True(File.Exists(Path.Combine(folder, "data", "identityserver.db")), server.Output);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_request_body_over_a_megabyte_is_refused_with_413_before_it_is_read()
    {
        await using var server = HostProcess.Start("src/IdentityServer", HostProcess.FreePort(), new Dictionary<string, string>
        {
            ["ConnectionStrings__IdentityServer"] = $"Data Source={Path.Combine(Path.GetTempPath(), $"identityserver-e2e-{Guid.NewGuid():N}.db")}",
        });
        await server.WaitUntilHealthyAsync("/health/ready", TimeSpan.FromSeconds(90));
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        using var huge = await http.SendAsync(TokenRequestOf(2 * 1024 * 1024));
        using var small = await http.SendAsync(TokenRequestOf(512 * 1024));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, small.StatusCode);   // read, and refused for what it says (no client)
    }

    // Expect: 100-continue, as large uploads do: the body goes only once the server asks for it, so a refusal arrives
    // as a response rather than as a connection closed under the upload.
    private static HttpRequestMessage TokenRequestOf(int paddingBytes)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new StringContent("grant_type=client_credentials&padding=" + new string('a', paddingBytes),
                System.Text.Encoding.ASCII, "application/x-www-form-urlencoded"),
        };
        request.Headers.ExpectContinue = true;
        return request;
    }

    [GeneratedRegex("<link[^>]+rel=\"stylesheet\"[^>]+href=\"(?<href>/[^\"]+\\.css)\"")]
    private static partial Regex StylesheetLink();
}
