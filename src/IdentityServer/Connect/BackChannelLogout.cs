using System.Text.Json;
using IdentityServer.Keys;
using IdentityServer.Persistence;
using IdentityServer.Users;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.EntityFrameworkCore.Models;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Connect;

/// <summary>
/// OpenID Connect Back-Channel Logout 1.0, as Keycloak and Duende send it. When a browser session ends here (end
/// session, or an admin logging a user out, disabling, deleting them or resetting their password), each client with a
/// back-channel logout URI that the session signed in to gets a POST of a logout token: a JWT signed like the ID tokens,
/// naming the user (<c>sub</c>) and the session (<c>sid</c>, as in the session's ID tokens), so that the app ends its
/// own session for them. The request that ended the session waits for the answers (in parallel, each for at most
/// <see cref="ConnectOptions.BackChannelLogoutTimeout"/>), so the app has signed the user out by the time the browser
/// comes back to it; an app that does not answer 2xx in time is logged, not retried.
/// </summary>
public sealed partial class BackChannelLogout(
    ApplicationDbContext db,
    IHttpClientFactory httpClients,
    KeyRing keys,
    TimeProvider time,
    IOptions<ConnectOptions> options,
    ILogger<BackChannelLogout> logger)
{
    /// <summary>Where a client keeps its back-channel logout URI: among its properties, as its CORS origins.</summary>
    public const string UriProperty = "backchannel_logout_uri";

    public const string HttpClientName = "backchannel-logout";

    public const string LogoutEvent = "http://schemas.openid.net/event/backchannel-logout";

    /// <summary>Back-Channel Logout 1.0, 2.4: explicitly typed, so that it cannot pass for an ID token.</summary>
    public const string LogoutTokenType = "logout+jwt";

    private static readonly TimeSpan LogoutTokenLifetime = TimeSpan.FromMinutes(2);

    // Bounds what an admin's logout of a user with many sessions sends at once (to one app, often).
    private const int MaxConcurrentNotifications = 4;

    public static string? UriOf(IReadOnlyDictionary<string, JsonElement> properties) =>
        properties.TryGetValue(UriProperty, out var uri) && uri.ValueKind == JsonValueKind.String ? uri.GetString() : null;

    /// <summary>From a client row's properties as stored (a JSON object).</summary>
    private static string? UriOf(string? properties)
    {
        if (string.IsNullOrEmpty(properties))
        {
            return null;
        }

        using var document = JsonDocument.Parse(properties);
        return document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.TryGetProperty(UriProperty, out var uri) && uri.ValueKind == JsonValueKind.String
                ? uri.GetString()
                : null;
    }

    /// <summary>How stale a row's <see cref="SessionClient.LastSeenAt"/> may get before a use of the session writes it again.</summary>
    public static readonly TimeSpan SeenAgainAfter = TimeSpan.FromHours(1);

    /// <summary>
    /// Remembers that a session signed in to a client that wants to hear of its end (others cost nothing). A second
    /// sign-in of the same session to the same client (another tab, a silent renewal) finds the row there and only
    /// marks it seen.
    /// </summary>
    public async Task RecordSignInAsync(
        string? sessionId, string subject, string applicationId, string issuer, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(sessionId))
        {
            return;
        }

        if (await LastSeenAsync(sessionId, applicationId, cancellationToken) is { } lastSeen)
        {
            await SeenAgainAsync(sessionId, applicationId, lastSeen, cancellationToken);
            return;
        }

        var entry = db.SessionClients.Add(new SessionClient
        {
            SessionId = sessionId, ApplicationId = applicationId, Subject = subject, Issuer = issuer, LastSeenAt = time.GetUtcNow(),
        });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            entry.State = EntityState.Detached;
            // Two tabs signing in to the client at once (the other one recorded it), or the client deleted meanwhile
            // (its sign-in then fails on its own). Anything else is a real failure.
            if (!await db.SessionClients.AnyAsync(s => s.SessionId == sessionId && s.ApplicationId == applicationId, cancellationToken)
                && await db.Set<OpenIddictEntityFrameworkCoreApplication>().AnyAsync(a => a.Id == applicationId, cancellationToken))
            {
                throw;
            }
        }
    }

    /// <summary>
    /// The session is still in use by the client (a sign-in, a refresh): its row is kept from pruning, written at most
    /// once per <see cref="SeenAgainAfter"/>. An app's session may live on refresh tokens for weeks after the sign-in.
    /// </summary>
    public async Task SeenAsync(string sessionId, string applicationId, CancellationToken cancellationToken)
    {
        // Bookkeeping: a refresh does not fail for it.
        try
        {
            if (await LastSeenAsync(sessionId, applicationId, cancellationToken) is { } lastSeen)
            {
                await SeenAgainAsync(sessionId, applicationId, lastSeen, cancellationToken);
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogSeenFailed(logger, exception);
        }
    }

    private Task<DateTimeOffset?> LastSeenAsync(string sessionId, string applicationId, CancellationToken cancellationToken) =>
        db.SessionClients.Where(s => s.SessionId == sessionId && s.ApplicationId == applicationId)
            .Select(s => (DateTimeOffset?)s.LastSeenAt).FirstOrDefaultAsync(cancellationToken);

    /// <summary>Written only when stale: most uses of a session read the row and write nothing.</summary>
    private async Task SeenAgainAsync(string sessionId, string applicationId, DateTimeOffset lastSeen, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var stale = now - SeenAgainAfter;
        if (lastSeen >= stale)
        {
            return;
        }

        await SqliteWriteGate.WriteAsync(db, aborted => db.SessionClients
            .Where(s => s.SessionId == sessionId && s.ApplicationId == applicationId && s.LastSeenAt < stale)
            .ExecuteUpdateAsync(set => set.SetProperty(s => s.LastSeenAt, now), aborted), cancellationToken);
    }

    /// <summary>Tells the clients a session signed in to that it has ended.</summary>
    public Task SessionEndedAsync(string sessionId) => NotifyAsync(db.SessionClients.Where(s => s.SessionId == sessionId));

    /// <summary>Tells one client that the user's sessions there have ended (the browser sessions stay).</summary>
    public Task ClientSessionsOfUserEndedAsync(string subject, string applicationId) =>
        NotifyAsync(db.SessionClients.Where(s => s.Subject == subject && s.ApplicationId == applicationId));

    /// <summary>Tells the clients every session of the user signed in to that those sessions have ended.</summary>
    public Task SessionsOfUserEndedAsync(string subject) => NotifyAsync(db.SessionClients.Where(s => s.Subject == subject));

    /// <summary>
    /// Not cancelled with the request: the session has ended whether or not the caller stays for the answer, and the
    /// apps should hear of it. Never fails the action that ended the session (a sign-out, an admin's change, both
    /// already done): a failure here is logged.
    /// </summary>
    private async Task NotifyAsync(IQueryable<SessionClient> ended)
    {
        var claimed = new List<(string Uri, string ClientId, string Issuer, string Subject, string SessionId)>();
        try
        {
            var signedIn = await ended
                .Join(db.Set<OpenIddictEntityFrameworkCoreApplication>(), s => s.ApplicationId, a => a.Id,
                    (s, a) => new { s.SessionId, s.ApplicationId, s.Subject, s.Issuer, a.ClientId, a.Properties })
                .AsNoTracking()
                .ToListAsync(CancellationToken.None);

            // Each row is claimed by deleting it, and announced only by the request whose DELETE took it: a session
            // ended twice at once (two tabs, a sign-out and an admin's logout) is announced once.
            foreach (var session in signedIn)
            {
                var deleted = await SqliteWriteGate.WriteAsync(db, aborted => db.SessionClients
                    .Where(s => s.SessionId == session.SessionId && s.ApplicationId == session.ApplicationId)
                    .ExecuteDeleteAsync(aborted), CancellationToken.None);
                if (deleted == 1 && UriOf(session.Properties) is { } uri && session.ClientId is { } clientId)
                {
                    claimed.Add((uri, clientId, session.Issuer, session.Subject, session.SessionId));
                }
            }
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // What was claimed before the failure is still sent.
            LogNotifyFailed(logger, exception);
        }

        if (claimed.Count == 0)
        {
            return;
        }

        try
        {
            var signing = keys.ActiveAt(time.GetUtcNow()).PublicSigning;
            await Parallel.ForEachAsync(
                claimed,
                new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentNotifications },
                async (app, _) => await SendAsync(app.Uri, app.ClientId, LogoutToken(signing, app.Issuer, app.ClientId, app.Subject, app.SessionId)));
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            LogNotifyFailed(logger, exception);
        }
    }

    private string LogoutToken(SigningCredentials signing, string issuer, string clientId, string subject, string sessionId)
    {
        var now = time.GetUtcNow();
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = clientId,
            IssuedAt = now.UtcDateTime,
            Expires = (now + LogoutTokenLifetime).UtcDateTime,
            TokenType = LogoutTokenType,
            SigningCredentials = signing,
            Claims = new Dictionary<string, object>
            {
                [Claims.Subject] = subject,
                [BrowserSessions.SessionIdClaim] = sessionId,
                [Claims.JwtId] = Guid.NewGuid().ToString("N"),
                ["events"] = new Dictionary<string, object> { [LogoutEvent] = new Dictionary<string, object>() },
            },
        });
    }

    private async Task SendAsync(string uri, string clientId, string logoutToken)
    {
        using var timeout = new CancellationTokenSource(options.Value.BackChannelLogoutTimeout, time);
        try
        {
            using var content = new FormUrlEncodedContent([KeyValuePair.Create("logout_token", logoutToken)]);
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
            // The answer's status is all that is read: its body, however large, is not.
            using var response = await httpClients.CreateClient(HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                LogSent(logger, clientId);
            }
            else
            {
                LogRefused(logger, clientId, uri, (int)response.StatusCode);
            }
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
        {
            LogUnreachable(logger, clientId, uri, exception.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Back-channel logout could not be sent: the session has ended here, and the apps it signed in to were not told.")]
    private static partial void LogNotifyFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not mark a browser session as still in use by a client; if this keeps failing, back-channel logout may miss sessions older than the refresh token lifetime.")]
    private static partial void LogSeenFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Back-channel logout sent to client {ClientId}.")]
    private static partial void LogSent(ILogger logger, string clientId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Back-channel logout to client {ClientId} at {Uri} was answered {Status}; the app may still hold the session.")]
    private static partial void LogRefused(ILogger logger, string clientId, string uri, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Back-channel logout to client {ClientId} at {Uri} failed ({Reason}); the app may still hold the session.")]
    private static partial void LogUnreachable(ILogger logger, string clientId, string uri, string reason);

    /// <summary>Discovery says so (Back-Channel Logout 1.0, 2.1): with <c>sid</c> in ID tokens and logout tokens.</summary>
    internal sealed class Advertise : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<Advertise>()
                .SetOrder(int.MaxValue - 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            context.Metadata["backchannel_logout_supported"] = true;
            context.Metadata["backchannel_logout_session_supported"] = true;
            return default;
        }
    }
}
