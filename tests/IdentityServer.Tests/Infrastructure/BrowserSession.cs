using System.Net;
using AngleSharp;
using AngleSharp.Dom;
using AngleSharp.Html.Dom;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace IdentityServer.Tests.Infrastructure;

/// <summary>
/// A browser without JavaScript: keeps cookies, follows the server's redirects by hand, reads pages with AngleSharp
/// and submits their forms (hidden fields and anti-forgery token included) by clicking a button id.
/// </summary>
public sealed class BrowserSession(IdentityServerFactory factory)
{
    private readonly HttpClient http = factory.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = true });
    private readonly Dictionary<string, string> cookies = new(StringComparer.Ordinal);

    public HttpClient Http => http;

    /// <summary>The page the browser shows now, and its address.</summary>
    public IDocument? Page { get; private set; }

    public Uri? PageUri { get; private set; }

    /// <summary>The cookies the server has set on this browser, as a Cookie header: what a thief who copied them sends.</summary>
    public string CookieHeader => string.Join("; ", cookies.Select(cookie => $"{cookie.Key}={cookie.Value}"));

    /// <summary>
    /// Navigates, following redirects on this server until the page is rendered or the browser is sent elsewhere
    /// (to a client's redirect URI); returns that last response.
    /// </summary>
    public async Task<HttpResponseMessage> GoAsync(string url) => await FollowAsync(await http.GetAsync(url));

    public async Task<HttpResponseMessage> ClickAsync(string buttonId, IReadOnlyDictionary<string, string>? fieldsById = null)
    {
        var page = Page ?? throw new InvalidOperationException("No page is open.");
        var button = page.GetElementById(buttonId) as IHtmlButtonElement
            ?? throw new InvalidOperationException($"No button#{buttonId} on {PageUri}: {page.Body?.TextContent}");
        var form = button.Form ?? throw new InvalidOperationException($"button#{buttonId} is in no form.");

        foreach (var (id, value) in fieldsById ?? new Dictionary<string, string>())
        {
            var input = page.GetElementById(id) as IHtmlInputElement
                ?? throw new InvalidOperationException($"No input#{id} on {PageUri}.");
            input.Value = value;
        }

        var fields = new List<KeyValuePair<string, string>>();
        foreach (var input in form.Elements.OfType<IHtmlInputElement>().Where(i => !string.IsNullOrEmpty(i.Name)))
        {
            fields.Add(new(input.Name!, input.Value));
        }

        if (!string.IsNullOrEmpty(button.Name))
        {
            fields.Add(new(button.Name, button.Value));
        }

        var action = string.IsNullOrEmpty(form.GetAttribute("action")) ? PageUri!.PathAndQuery : form.GetAttribute("action")!;
        var target = new Uri(PageUri!, action);
        using var content = new FormUrlEncodedContent(fields);
        return await FollowAsync(await http.PostAsync(target, content));
    }

    private async Task<HttpResponseMessage> FollowAsync(HttpResponseMessage response)
    {
        var current = response.RequestMessage!.RequestUri!;
        for (var hops = 0; hops < 10; hops++)
        {
            RememberCookies(response);
            if (response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.RedirectKeepVerb or HttpStatusCode.MovedPermanently)
            {
                var location = new Uri(current, response.Headers.Location!);
                if (location.Host != "localhost" || location.Port != 80)
                {
                    // Leaving the server: the client's redirect URI. The test reads it from the response.
                    return response;
                }

                current = location;
                response = await http.GetAsync(location);
                continue;
            }

            if (response.Content.Headers.ContentType?.MediaType == "text/html")
            {
                var html = await response.Content.ReadAsStringAsync();
                Page = await BrowsingContext.New(Configuration.Default).OpenAsync(request => request.Content(html).Address(current.ToString()));
                PageUri = current;
            }

            return response;
        }

        throw new InvalidOperationException("Too many redirects.");
    }

    private void RememberCookies(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues(HeaderNames.SetCookie, out var headers))
        {
            return;
        }

        foreach (var cookie in SetCookieHeaderValue.ParseList([.. headers]))
        {
            // A deleted cookie comes back empty (and expired).
            if (cookie.Value.Length == 0)
            {
                cookies.Remove(cookie.Name.ToString());
            }
            else
            {
                cookies[cookie.Name.ToString()] = cookie.Value.ToString();
            }
        }
    }

    /// <summary>The query (or form_post) parameters the server sent the client with the browser.</summary>
    public static Dictionary<string, string> CallbackParameters(HttpResponseMessage response)
    {
        var location = response.Headers.Location ?? throw new InvalidOperationException($"Expected a redirect to the client, got {(int)response.StatusCode}.");
        return QueryHelpers.ParseQuery(location.Query).ToDictionary(p => p.Key, p => p.Value.ToString());
    }
}
