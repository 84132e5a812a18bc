namespace IdentityServer.Persistence;

public enum DatabaseProvider
{
    Sqlite,
    SqlServer,
    PostgreSql,
}

public sealed class DatabaseOptions
{
    public const string SectionName = "Database";
    public const string ConnectionStringName = "IdentityServer";
    public const string DefaultSqliteConnectionString = "Data Source=data/identityserver.db";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>Apply pending migrations when the server starts; operators can turn this off and run <c>migrate</c> themselves.</summary>
    public bool MigrateOnStartup { get; set; } = true;

    /// <summary>Database commands slower than this are logged as warnings.</summary>
    public TimeSpan SlowQueryThreshold { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Reads the provider choice eagerly: the DbContext registration depends on it, so a wrong value must stop
    /// start-up with a message that names the key rather than surface later as a binder exception.
    /// </summary>
    public static (DatabaseOptions Options, string ConnectionString) Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(SectionName);
        var options = new DatabaseOptions();
        var providerValue = section[nameof(Provider)];
        if (!string.IsNullOrWhiteSpace(providerValue))
        {
            // By name only: Enum.TryParse also takes "1" and would pick a provider by its position.
            if (!providerValue.Trim().All(char.IsAsciiLetter)
                || !Enum.TryParse<DatabaseProvider>(providerValue, ignoreCase: true, out var provider) || !Enum.IsDefined(provider))
            {
                throw new InvalidOperationException(
                    $"Configuration key 'Database:Provider' has the unknown value '{providerValue}'. Use Sqlite, SqlServer or PostgreSql.");
            }

            options.Provider = provider;
        }

        var migrate = section[nameof(MigrateOnStartup)];
        if (!string.IsNullOrWhiteSpace(migrate))
        {
            options.MigrateOnStartup = bool.TryParse(migrate, out var value)
                ? value
                : throw new InvalidOperationException($"Configuration key 'Database:MigrateOnStartup' must be true or false, not '{migrate}'.");
        }

        var slow = section[nameof(SlowQueryThreshold)];
        if (!string.IsNullOrWhiteSpace(slow))
        {
            options.SlowQueryThreshold = TimeSpan.TryParse(slow, System.Globalization.CultureInfo.InvariantCulture, out var threshold) && threshold > TimeSpan.Zero
                ? threshold
                : throw new InvalidOperationException($"Configuration key 'Database:SlowQueryThreshold' must be a positive time span such as 00:00:00.500, not '{slow}'.");
        }

        var connectionString = configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            connectionString = options.Provider == DatabaseProvider.Sqlite
                ? DefaultSqliteConnectionString
                : throw new InvalidOperationException(
                    $"Configuration key 'ConnectionStrings:{ConnectionStringName}' is required when 'Database:Provider' is {options.Provider}.");
        }

        return (options, connectionString);
    }
}
