using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace IdentityServer.Tests.Infrastructure;

/// <summary>
/// Records the SQL commands EF Core sends to one test server's database, from EF Core's diagnostic events. Other
/// test classes run at the same time on other databases; their commands are told apart by connection string.
/// </summary>
public sealed class DatabaseCommandCounter : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
{
    private readonly string connectionString;
    private readonly IDisposable allListeners;
    private readonly ConcurrentQueue<IDisposable> subscriptions = new();
    private volatile bool recording;

    public DatabaseCommandCounter(IdentityServerFactory factory)
    {
        connectionString = factory.ConnectionString;
        allListeners = DiagnosticListener.AllListeners.Subscribe(this);
    }

    public ConcurrentQueue<string> Commands { get; } = new();

    /// <summary>The recorded commands that ran while their context held the SQLite write gate.</summary>
    public ConcurrentQueue<string> GatedCommands { get; } = new();

    /// <summary>How many SaveChanges wrote something: each is a transaction of its own.</summary>
    public int Saves => saves;

    private int saves;

    /// <summary>Records the commands of what <paramref name="action"/> makes the server do.</summary>
    public async Task<IReadOnlyList<string>> RecordAsync(Func<Task> action)
    {
        Commands.Clear();
        GatedCommands.Clear();
        saves = 0;
        recording = true;
        try
        {
            await action();
        }
        finally
        {
            recording = false;
        }

        return [.. Commands];
    }

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener listener)
    {
        if (listener.Name == DbLoggerCategory.Name)
        {
            subscriptions.Enqueue(listener.Subscribe(this));
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        if (recording
            && value.Key == RelationalEventId.CommandExecuted.Name
            && value.Value is CommandExecutedEventData data
            && IsOurs(data.Command))
        {
            Commands.Enqueue(data.Command.CommandText);
            if (data.Context is { } context && SqliteWriteGate.Holds(context))
            {
                GatedCommands.Enqueue(data.Command.CommandText);
            }
        }

        if (recording
            && value.Key == CoreEventId.SaveChangesCompleted.Name
            && value.Value is SaveChangesCompletedEventData { EntitiesSavedCount: > 0 } saved
            && saved.Context?.Database.GetDbConnection() is { } connection
            && IsOurs(connection))
        {
            Interlocked.Increment(ref saves);
        }
    }

    // Npgsql hides the password from DbConnection.ConnectionString, so the file (SQLite) or database (PostgreSQL)
    // name, unique per test server, is what is compared.
    private bool IsOurs(DbCommand command) => command.Connection is { } connection && IsOurs(connection);

    private bool IsOurs(DbConnection connection) =>
        connection.ConnectionString is { } used
        && (used == connectionString || (DataSource(used) is { } source && source == DataSource(connectionString)));

    private static string? DataSource(string connection) =>
        new DbConnectionStringBuilder { ConnectionString = connection } is var builder
        && (builder.TryGetValue("Data Source", out var source) || builder.TryGetValue("Database", out source))
        && Path.GetFileName(source?.ToString()) is { Length: > 0 } name
            ? name
            : null;

    public void OnCompleted()
    {
    }

    public void OnError(Exception error)
    {
    }

    public void Dispose()
    {
        allListeners.Dispose();
        while (subscriptions.TryDequeue(out var subscription))
        {
            subscription.Dispose();
        }
    }
}
