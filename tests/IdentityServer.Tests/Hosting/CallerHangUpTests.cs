using IdentityServer.Hosting;
using IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IdentityServer.Tests.Hosting;

/// <summary>
/// A caller that hangs up mid-request (a reset, a body cut short) gets no answer and costs no Error line: the exception
/// handler takes the exception as handled (ASP.NET Core then records no diagnostics for it) and writes nothing. Which of
/// these exceptions a real hang-up raises depends on timing, so each is handed to the handler directly.
/// </summary>
public sealed class CallerHangUpTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    [Fact]
    public async Task A_connection_reset_while_the_body_is_read_is_handled_without_an_answer()
    {
        var (handler, logs) = Handler();
        var context = TokenRequest(new MemoryStream());

        Assert.True(await handler.TryHandleAsync(context, new ConnectionResetException("Connection reset by peer"), CancellationToken.None));

        Assert.Equal(0, context.Response.Body.Length);
        Assert.Contains(logs.Lines, line => line.StartsWith($"{LogLevel.Information} ", StringComparison.Ordinal)
            && line.Contains("POST /connect/token: the caller hung up", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_body_cut_short_whose_answer_cannot_be_written_any_more_is_handled()
    {
        var (handler, logs) = Handler();
        var context = TokenRequest(new ClosedConnectionStream());

        var handled = await handler.TryHandleAsync(
            context, new BadHttpRequestException("Unexpected end of request content."), CancellationToken.None);

        Assert.True(handled);
        Assert.Contains(logs.Lines, line => line.Contains("POST /connect/token: the caller hung up", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_body_cut_short_from_a_caller_still_listening_gets_an_oauth_400()
    {
        var (handler, _) = Handler();
        var context = TokenRequest(new MemoryStream());

        Assert.True(await handler.TryHandleAsync(context, new BadHttpRequestException("Unexpected end of request content."), CancellationToken.None));

        Assert.Equal(StatusCodes.Status400BadRequest, context.Response.StatusCode);
        context.Response.Body.Position = 0;
        Assert.Contains("invalid_request", await new StreamReader(context.Response.Body).ReadToEndAsync(), StringComparison.Ordinal);
    }

    private (MalformedRequestHandler Handler, CapturingLoggerProvider Logs) Handler()
    {
        var logs = new CapturingLoggerProvider();
        var logger = LoggerFactory.Create(logging => logging.AddProvider(logs).SetMinimumLevel(LogLevel.Trace)).CreateLogger<MalformedRequestHandler>();
        return (new MalformedRequestHandler(factory.Services.GetRequiredService<Microsoft.AspNetCore.Http.IProblemDetailsService>(), logger), logs);
    }

    private DefaultHttpContext TokenRequest(Stream responseBody)
    {
        var context = new DefaultHttpContext { RequestServices = factory.Services };
        context.Request.Method = HttpMethods.Post;
        context.Request.Path = "/connect/token";
        context.Response.Body = responseBody;
        return context;
    }

    /// <summary>A response stream whose connection is gone: every write fails as Kestrel's does then.</summary>
    private sealed class ClosedConnectionStream : MemoryStream
    {
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            throw new IOException("The connection was closed.");

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            throw new IOException("The connection was closed.");

        public override Task FlushAsync(CancellationToken cancellationToken) => throw new IOException("The connection was closed.");
    }
}
