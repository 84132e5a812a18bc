using Microsoft.EntityFrameworkCore;

namespace IdentityServer.Persistence;

/// <summary>
/// <c>IdentityServer migrate</c>: brings the database schema up to date and exits without serving, so that a
/// deployment can migrate once (with DDL rights) before starting instances that run with
/// <c>Database:MigrateOnStartup=false</c>.
/// </summary>
public static partial class MigrateCommand
{
    public const string Name = "migrate";

    /// <summary>
    /// Runs the command when it is the first argument and returns true, the app disposed; the caller must then exit
    /// rather than run the web server. The process exit code says whether migrating worked.
    /// </summary>
    public static async Task<bool> TryRunMigrateCommandAsync(this WebApplication app, string[] args)
    {
        if (args.Length == 0 || !string.Equals(args[0], Name, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MigrateCommand));
        using var stopping = new CancellationTokenSource();
        // Ctrl+C stops between migrations instead of killing the process half-way through one.
        ConsoleCancelEventHandler cancel = (_, e) =>
        {
            e.Cancel = true;
            stopping.Cancel();
        };
        Console.CancelKeyPress += cancel;

        try
        {
            // EF Core logs each migration it applies.
            LogUpToDate(logger, await DatabaseMigrator.MigrateAsync(app.Services.GetRequiredService<IServiceScopeFactory>(), stopping.Token));
            Environment.ExitCode = 0;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            LogFailed(logger, exception);
            Environment.ExitCode = 1;
        }
        finally
        {
            Console.CancelKeyPress -= cancel;
            // The console logger writes from a queue of its own: disposing the app flushes it, or the last lines (the
            // outcome) could be lost when the process exits right after.
            await app.DisposeAsync();
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The database schema is up to date at migration {Migration}.")]
    private static partial void LogUpToDate(ILogger logger, string migration);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Migrating the database failed.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
