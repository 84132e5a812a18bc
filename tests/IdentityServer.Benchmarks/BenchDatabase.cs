using Npgsql;

namespace IdentityServer.Benchmarks;

/// <summary>The server's database for one run: a temporary SQLite file, or a PostgreSQL database created and dropped here.</summary>
internal sealed class BenchDatabase : IDisposable
{
    private readonly string? folder;
    private readonly string? postgresAdmin;
    private readonly string? postgresName;

    private BenchDatabase(string connectionString, string? folder, string? postgresAdmin, string? postgresName)
    {
        ConnectionString = connectionString;
        this.folder = folder;
        this.postgresAdmin = postgresAdmin;
        this.postgresName = postgresName;
    }

    public string ConnectionString { get; }

    public static Task<BenchDatabase> CreateAsync(Options options)
    {
        var name = "ids_bench_" + Guid.NewGuid().ToString("N")[..12];
        if (options.Provider == "Sqlite")
        {
            var folder = Path.Combine(Path.GetTempPath(), name);
            Directory.CreateDirectory(folder);
            return Task.FromResult(new BenchDatabase($"Data Source={Path.Combine(folder, "identityserver.db")}", folder, null, null));
        }

        // The server creates the database when it migrates at start.
        var builder = new NpgsqlConnectionStringBuilder(options.Connection) { Database = name };
        var admin = new NpgsqlConnectionStringBuilder(options.Connection) { Database = "postgres", Pooling = false };
        return Task.FromResult(new BenchDatabase(builder.ConnectionString, null, admin.ConnectionString, name));
    }

    public void Dispose()
    {
        if (folder is not null)
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // Left in the temp folder.
            }
        }

        if (postgresAdmin is not null)
        {
            try
            {
                NpgsqlConnection.ClearAllPools();
                using var connection = new NpgsqlConnection(postgresAdmin);
                connection.Open();
                using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{postgresName}\" WITH (FORCE)", connection);
                drop.ExecuteNonQuery();
            }
            catch (NpgsqlException e)
            {
                Console.Error.WriteLine($"Could not drop the benchmark database {postgresName}: {e.Message}");
            }
        }
    }
}
