using System.Collections.Concurrent;
using System.Net;
using IdentityServer.Connect;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Infrastructure;

/// <summary>
/// The apps' back-channel logout endpoints, in place of the network: what each address received (the logout tokens),
/// and an app that takes a request and never answers.
/// </summary>
public sealed class LogoutEndpoints
{
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> received = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> hanging = new(StringComparer.Ordinal);

    /// <summary>Sends the server's back-channel logout requests here instead of to the network.</summary>
    public void Replace(IWebHostBuilder builder) =>
        builder.ConfigureTestServices(services => services.AddHttpClient(BackChannelLogout.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new Handler(this)));

    public IReadOnlyList<string> ReceivedAt(string uri) => received.TryGetValue(uri, out var tokens) ? [.. tokens] : [];

    /// <summary>The app at that address takes the request and never answers; completes when it has it.</summary>
    public Task HangAt(string uri) => hanging.GetOrAdd(uri, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private readonly ConcurrentDictionary<string, bool> failing = new(StringComparer.Ordinal);

    /// <summary>Sending to that address fails with something other than a network error (a bug, a handler throwing).</summary>
    public void FailAt(string uri) => failing[uri] = true;

    private async Task<HttpResponseMessage> AnswerAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri!.ToString();
        if (failing.ContainsKey(uri))
        {
            throw new InvalidOperationException("The handler failed.");
        }

        var form = QueryHelpers.ParseQuery(await request.Content!.ReadAsStringAsync(cancellationToken));
        Assert.Equal("application/x-www-form-urlencoded", request.Content.Headers.ContentType?.MediaType);
        received.GetOrAdd(uri, _ => new()).Enqueue(form["logout_token"].ToString());
        if (hanging.TryGetValue(uri, out var hang))
        {
            hang.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        return new HttpResponseMessage(HttpStatusCode.OK);
    }

    private sealed class Handler(LogoutEndpoints apps) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            apps.AnswerAsync(request, cancellationToken);
    }
}
