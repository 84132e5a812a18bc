using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace IdentityServer.Persistence;

/// <summary>
/// Warns about any database command slower than <see cref="DatabaseOptions.SlowQueryThreshold"/>, with its SQL
/// (parameter values are never logged), so a missing index or an N+1 shows up in production logs.
/// </summary>
internal sealed partial class SlowQueryLogger(IOptions<DatabaseOptions> options, ILogger<SlowQueryLogger> logger) : DbCommandInterceptor
{
    public override ValueTask<DbDataReader> ReaderExecutedAsync(DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
    {
        Check(command, eventData.Duration);
        return base.ReaderExecutedAsync(command, eventData, result, cancellationToken);
    }

    public override ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Check(command, eventData.Duration);
        return base.NonQueryExecutedAsync(command, eventData, result, cancellationToken);
    }

    public override ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default)
    {
        Check(command, eventData.Duration);
        return base.ScalarExecutedAsync(command, eventData, result, cancellationToken);
    }

    private void Check(DbCommand command, TimeSpan duration)
    {
        if (duration >= options.Value.SlowQueryThreshold)
        {
            LogSlowQuery(logger, (long)duration.TotalMilliseconds, command.CommandText);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Slow database command ({ElapsedMilliseconds} ms): {CommandText}")]
    private static partial void LogSlowQuery(ILogger logger, long elapsedMilliseconds, string commandText);
}
