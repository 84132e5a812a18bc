using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace IdentityServer.Tests.Infrastructure;

/// <summary>
/// Holds the next transaction one test server commits (its statements ran, so on PostgreSQL it holds their row locks)
/// at <see cref="Hold"/>, from EF Core's diagnostic events: the moment a sign-in has written its tokens and not yet
/// made them visible.
/// </summary>
public sealed class CommitHold : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
{
    private readonly string connectionString;
    private readonly IDisposable allListeners;
    private readonly List<IDisposable> subscriptions = [];

    public CommitHold(IdentityServerFactory factory)
    {
        connectionString = factory.ConnectionString;
        allListeners = DiagnosticListener.AllListeners.Subscribe(this);
    }

    public ServerHold Hold { get; } = new();

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener listener)
    {
        if (listener.Name == DbLoggerCategory.Name)
        {
            lock (subscriptions)
            {
                subscriptions.Add(listener.Subscribe(this));
            }
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Key == RelationalEventId.TransactionCommitting.Name
            && value.Value is TransactionEventData { Transaction.Connection.ConnectionString: { } used }
            && SameDatabase(used))
        {
            // EF Core raises the event synchronously, just before it commits: the committing thread waits here.
            Hold.ArriveAsync().GetAwaiter().GetResult();
        }
    }

    // A provider may hand back the connection string without its password: compared without it.
    private bool SameDatabase(string used) =>
        string.Equals(Database(used), Database(connectionString), StringComparison.OrdinalIgnoreCase);

    private static string Database(string connection) =>
        new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connection } is var builder
        && (builder.TryGetValue("Database", out var name) || builder.TryGetValue("Data Source", out name))
            ? name?.ToString() ?? string.Empty
            : string.Empty;

    public void Dispose()
    {
        allListeners.Dispose();
        lock (subscriptions)
        {
            subscriptions.ForEach(subscription => subscription.Dispose());
        }
    }

    void IObserver<DiagnosticListener>.OnCompleted()
    {
    }

    void IObserver<DiagnosticListener>.OnError(Exception error)
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnCompleted()
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error)
    {
    }
}
