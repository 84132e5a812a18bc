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

    [GeneratedRegex("<link[^>]+rel=\"stylesheet\"[^>]+href=\"(?<href>/[^\"]+\\.css)\"")]
    private static partial Regex StylesheetLink();
}
