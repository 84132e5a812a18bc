using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace ClientApp.Pages;

public sealed class IndexModel(AccessTokens accessTokens, IHttpClientFactory httpClients) : PageModel
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public DateTimeOffset? AccessTokenExpiresAt { get; private set; }

    public bool ApiCalled { get; private set; }

    public bool ApiSucceeded { get; private set; }

    public bool TokenRefreshed { get; private set; }

    public string? ApiStatus { get; private set; }

    public string? ApiResult { get; private set; }

    public async Task OnGetAsync()
    {
        if (User.Identity?.IsAuthenticated == true)
        {
            AccessTokenExpiresAt = ExpiresAt(await HttpContext.GetTokenAsync("expires_at"));
        }
    }

    public IActionResult OnPostSignIn() =>
        Challenge(new AuthenticationProperties { RedirectUri = "/" }, OpenIdConnectDefaults.AuthenticationScheme);

    public IActionResult OnPostSignOut() =>
        User.Identity?.IsAuthenticated != true
            ? RedirectToPage("/SignedOut")
            // Ends the local session and then the one at IdentityServer, which sends the browser back to /signed-out.
            : SignOut(new AuthenticationProperties { RedirectUri = "/signed-out" },
                CookieAuthenticationDefaults.AuthenticationScheme, OpenIdConnectDefaults.AuthenticationScheme);

    public async Task<IActionResult> OnPostCallApiAsync()
    {
        if (User.Identity?.IsAuthenticated != true)
        {
            return RedirectToPage();
        }

        ApiCalled = true;
        var token = await accessTokens.GetAsync(HttpContext);
        AccessTokenExpiresAt = token.ExpiresAt;
        TokenRefreshed = token.Refreshed;
        if (!token.Succeeded)
        {
            ApiStatus = token.Error;
            return Page();
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, "api/me");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.AccessToken);
        try
        {
            using var response = await httpClients.CreateClient("ResourceApi").SendAsync(request, HttpContext.RequestAborted);
            var body = await response.Content.ReadAsStringAsync(HttpContext.RequestAborted);
            ApiSucceeded = response.IsSuccessStatusCode;
            ApiStatus = $"{(int)response.StatusCode} {response.ReasonPhrase}";
            ApiResult = Pretty(body);
        }
        catch (HttpRequestException exception)
        {
            ApiStatus = "The API could not be reached: " + exception.Message;
        }

        return Page();
    }

    private static DateTimeOffset? ExpiresAt(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var parsed) ? parsed : null;

    private static string Pretty(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return JsonSerializer.Serialize(document.RootElement, Indented);
        }
        catch (JsonException)
        {
            return body;
        }
    }
}
