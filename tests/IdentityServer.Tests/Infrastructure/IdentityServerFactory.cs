using IdentityServer.Persistence;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace IdentityServer.Tests.Infrastructure;

/// <summary>
/// The real host, in memory, on a database of its own: a fresh SQLite file, or a fresh PostgreSQL database when
/// the test run's provider matrix says so (IDENTITYSERVER_TEST_PROVIDER=PostgreSql and IDENTITYSERVER_TEST_POSTGRES).
/// Time is a <see cref="FakeTimeProvider"/> the test moves by hand.
/// </summary>
public class IdentityServerFactory : WebApplicationFactory<Program>
{
    public const string AdminClientId = "admin-cli";
    public const string AdminClientSecret = "test-admin-client-secret-0123456789";
    public const string AdminUsername = "root";
    public const string AdminPassword = "root-password-1";

    private readonly string databaseName;
    private readonly Dictionary<string, string?> settings = new(StringComparer.Ordinal);

    private bool started;

    /// <summary>False for a second host on another factory's database: that factory creates and drops it.</summary>
    private readonly bool ownsDatabase = true;

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public static DatabaseProvider Provider =>
        Enum.TryParse<DatabaseProvider>(Environment.GetEnvironmentVariable("IDENTITYSERVER_TEST_PROVIDER"), ignoreCase: true, out var provider)
            ? provider
            : DatabaseProvider.Sqlite;

    public string ConnectionString { get; }

    public IdentityServerFactory()
        : this(NewDatabaseName())
    {
    }

    /// <summary>For hosts that share one database one after the other (see the restart tests).</summary>
    protected IdentityServerFactory(string databaseName)
    {
        this.databaseName = databaseName;
        ConnectionString = Provider switch
        {
            DatabaseProvider.PostgreSql =>
                (Environment.GetEnvironmentVariable("IDENTITYSERVER_TEST_POSTGRES")
                    ?? throw new InvalidOperationException("IDENTITYSERVER_TEST_POSTGRES is required when IDENTITYSERVER_TEST_PROVIDER=PostgreSql."))
                + ";Database=" + databaseName,
            _ => "Data Source=" + Path.Combine(Path.GetTempPath(), "identityserver-tests", databaseName + ".db"),
        };
    }

    /// <summary>
    /// Another host on the database of <paramref name="first"/>, as when the server restarts or a second instance
    /// starts beside it. Disposing it leaves the database to <paramref name="first"/>.
    /// </summary>
    protected IdentityServerFactory(IdentityServerFactory first)
        : this(first.databaseName)
    {
        ownsDatabase = false;
    }

    public static string NewDatabaseName() => "ids_test_" + Guid.NewGuid().ToString("N")[..16];

    /// <summary>Leave the database in place on dispose, for a next host to open it.</summary>
    protected virtual bool KeepDatabase => !ownsDatabase;

    /// <summary>Extra configuration for one test class, set before the server first starts.</summary>
    public IdentityServerFactory With(string key, string? value)
    {
        settings[key] = value;
        return this;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        var configuration = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Database:Provider"] = Provider.ToString(),
            ["ConnectionStrings:IdentityServer"] = ConnectionString,
            ["Passwords:BcryptWorkFactor"] = "4",
            // As many hashing threads on every machine, as CI has cores.
            ["Passwords:HashingThreads"] = "2",
            ["Bootstrap:AdminClientId"] = AdminClientId,
            ["Bootstrap:AdminClientSecret"] = AdminClientSecret,
            ["Bootstrap:AdminUsername"] = AdminUsername,
            ["Bootstrap:AdminPassword"] = AdminPassword,
            ["Logging:LogLevel:Default"] = "Warning",
            // Suites drive many logins from one address; RateLimitingTests sets real limits.
            ["RateLimits:PagePostsPerIp"] = "100000",
            ["RateLimits:ProtocolRequestsPerIp"] = "1000000",
            ["RateLimits:ProtocolRequestsPerClient"] = "1000000",
        };
        foreach (var (key, value) in settings)
        {
            configuration[key] = value;
        }

        foreach (var (key, value) in configuration)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(Time));
    }

    protected override IHost CreateHost(IHostBuilder builder)
    {
        var host = base.CreateHost(builder);
        started = true;
        return host;
    }

    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.BaseAddress = new Uri("http://localhost/");
    }

    public override async ValueTask DisposeAsync()
    {
        // Stop the host first, so no request or background service still holds a connection to the database.
        await base.DisposeAsync();
        if (Provider == DatabaseProvider.PostgreSql && started && !KeepDatabase)
        {
            await DropPostgreSqlDatabaseAsync();
        }

        if (Provider == DatabaseProvider.Sqlite && !KeepDatabase)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var suffix in new[] { "", "-wal", "-shm" })
            {
                File.Delete(ConnectionString["Data Source=".Length..] + suffix);
            }
        }

        GC.SuppressFinalize(this);
    }

    private async Task DropPostgreSqlDatabaseAsync()
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        var maintenance = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString) { Database = "postgres", Pooling = false };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = new Npgsql.NpgsqlConnection(maintenance.ConnectionString);
                await connection.OpenAsync();
                await using var drop = connection.CreateCommand();
                // FORCE ends any session still open on it (PostgreSQL 13+), so a slow pool never blocks the cleanup.
                drop.CommandText = $"DROP DATABASE IF EXISTS \"{databaseName}\" WITH (FORCE)";
                await drop.ExecuteNonQueryAsync();
                return;
            }
            catch (Npgsql.PostgresException exception) when (attempt < 5)
            {
                await Console.Error.WriteLineAsync($"Dropping test database {databaseName} failed ({exception.SqlState}: {exception.MessageText}); retrying.");
            }
            catch (Npgsql.PostgresException exception)
            {
                // The throw-away cluster is deleted at the end of the run anyway; a leftover database is no test failure.
                await Console.Error.WriteLineAsync($"Leaving test database {databaseName} behind: {exception.SqlState}: {exception.MessageText}");
                return;
            }
        }
    }
}
