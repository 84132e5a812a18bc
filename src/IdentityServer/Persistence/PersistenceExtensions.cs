using IdentityServer.Hosting;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore;

namespace IdentityServer.Persistence;

public static class PersistenceExtensions
{
    public static IHostApplicationBuilder AddPersistence(this IHostApplicationBuilder builder)
    {
        var (options, connectionString) = DatabaseOptions.Read(builder.Configuration);
        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));

        // First of all hosted services: Data Protection and the key ring read tables this creates.
        builder.Services.AddHostedService<DatabaseMigrator>();

        builder.Services.AddSingleton<SlowQueryLogger>();
        switch (options.Provider)
        {
            case DatabaseProvider.Sqlite:
                var sqlite = PrepareSqlite(connectionString);
                builder.Services.AddDbContextPool<ApplicationDbContext, SqliteApplicationDbContext>((services, db) =>
                    Common(services, db.UseSqlite(sqlite)).AddInterceptors(SqliteGate, SqliteSync), PoolSize);
                break;
            case DatabaseProvider.PostgreSql:
                builder.Services.AddDbContextPool<ApplicationDbContext, PostgreSqlApplicationDbContext>((services, db) =>
                    Common(services, db.UseNpgsql(PreparePostgreSql(connectionString))), PoolSize);
                break;
            case DatabaseProvider.SqlServer:
                builder.Services.AddDbContextPool<ApplicationDbContext, SqlServerApplicationDbContext>((services, db) =>
                    Common(services, db.UseSqlServer(connectionString, sql => sql.EnableRetryOnFailure())), PoolSize);
                break;
        }

        builder.AddValidatedOptions<PruningOptions>(PruningOptions.SectionName);
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<PruningOptions>, PruningKeepsRefreshTokensToExpiry>();
        // One instance, reachable both as a hosted service and by type (the tests wait for its runs).
        builder.Services.AddSingleton<TokenPruner>();
        builder.Services.AddHostedService(services => services.GetRequiredService<TokenPruner>());

        // Cookies and anti-forgery tokens must be readable by every instance sharing the database.
        builder.Services.AddDataProtection()
            .SetApplicationName("IdentityServer")
            .PersistKeysToDbContext<ApplicationDbContext>();

        return builder;
    }

    private static DbContextOptionsBuilder Common(IServiceProvider services, DbContextOptionsBuilder db) =>
        db.UseOpenIddict()
            .ConfigureWarnings(Warnings)
            .AddInterceptors(services.GetRequiredService<SlowQueryLogger>());

    private static readonly SqliteWriteGate SqliteGate = new();
    private static readonly SqliteDurability SqliteSync = new();

    // Contexts are pooled: creating one per request (its internal service scope, options clone and change tracker)
    // was ~35% of the memory a userinfo request allocated. The pool keeps this many idle contexts for reuse.
    private const int PoolSize = 256;

    private static void Warnings(WarningsConfigurationBuilder warnings) =>
        // A query that loads a whole collection by accident should be loud in the logs, not silent.
        warnings.Log((CoreEventId.RowLimitingOperationWithoutOrderByWarning, LogLevel.Warning));

    /// <summary>Makes the SQLite file's folder exist so that a first start needs no set-up.</summary>
    private static string PrepareSqlite(string connectionString)
    {
        var sqlite = new SqliteConnectionStringBuilder(connectionString);
        if (!string.IsNullOrEmpty(sqlite.DataSource)
            && sqlite.Mode is not SqliteOpenMode.Memory
            && !sqlite.DataSource.Equals(":memory:", StringComparison.Ordinal))
        {
            var path = Path.GetFullPath(sqlite.DataSource, Directory.GetCurrentDirectory());
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            sqlite.DataSource = path;
        }

        sqlite.Pooling = true;
        return sqlite.ToString();
    }

    /// <summary>
    /// Turns on Npgsql's automatic preparation unless the connection string decides it: a statement run twice on a
    /// connection is prepared there, so PostgreSQL stops parsing and planning the same few token queries on every
    /// request (userinfo +7-32% req/s in the benchmark, where PostgreSQL shares the cores; refresh, bound by its
    /// commits, within noise). Behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode
    /// before 1.21), set <c>Max Auto Prepare=0</c>.
    /// </summary>
    internal static string PreparePostgreSql(string connectionString)
    {
        // Npgsql accepts a keyword with or without its spaces, in any case.
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.Keys
            .Cast<string>()
            .Select(key => key.Replace(" ", string.Empty, StringComparison.Ordinal))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (given.Contains("MaxAutoPrepare"))
        {
            return connectionString;
        }

        var postgres = new Npgsql.NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxAutoPrepare = AutoPreparedStatements,
        };
        if (!given.Contains("AutoPrepareMinUsages"))
        {
            postgres.AutoPrepareMinUsages = 2;
        }

        return postgres.ConnectionString;
    }

    // A token request runs about ten distinct statements; the rest (admin API, pruning) fit beside them.
    private const int AutoPreparedStatements = 64;
}
