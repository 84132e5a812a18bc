using System.Net;
using System.Text.RegularExpressions;
using IdentityServer.Tests.Infrastructure;
using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Account;

/// <summary>
/// On Kestrel, which (unlike the in-memory test server) refuses a response header with characters beyond ASCII: what a
/// browser following a hand-written link with such a return URL meets after typing its password.
/// </summary>
public sealed partial class LoginOnKestrelTests
{
    [Fact]
    public async Task Signing_in_from_a_login_link_whose_return_url_holds_characters_beyond_ascii_redirects_to_it_encoded()
    {
        await using var server = new IdentityServerFactory();
        var address = StartOnKestrel(server);
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
            Assert.True((await users.CreateAsync(new ApplicationUser { UserName = "kestrel-cafe", Enabled = true }, "kestrel-cafe-password-1")).Succeeded);
        }

        using var browser = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = address };
        var page = "/account/login?ReturnUrl=" + Uri.EscapeDataString("/?from=café x");
        var form = await browser.GetStringAsync(page);

        using var response = await browser.PostAsync(page, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Username"] = "kestrel-cafe",
            ["Password"] = "kestrel-cafe-password-1",
            ["__RequestVerificationToken"] = AntiforgeryToken().Match(form).Groups[1].Value,
        }));

        Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("/?from=caf%C3%A9%20x", Assert.Single(response.Headers.GetValues("Location")));
    }

    [Fact]
    public async Task Answers_on_Kestrel_do_not_name_the_server_software()
    {
        await using var server = new IdentityServerFactory();
        var address = StartOnKestrel(server);
        using var http = new HttpClient { BaseAddress = address };

        using var page = await http.GetAsync("/account/login");
        using var discovery = await http.GetAsync("/.well-known/openid-configuration");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.False(page.Headers.Contains("Server"), string.Join(",", page.Headers.Select(h => h.Key)));
        Assert.False(discovery.Headers.Contains("Server"));
    }

    private static Uri StartOnKestrel(IdentityServerFactory server)
    {
        server.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        server.StartServer();
        return new Uri(server.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
    }

    [GeneratedRegex("""name="__RequestVerificationToken" type="hidden" value="([^"]+)" """)]
    private static partial Regex AntiforgeryToken();
}
