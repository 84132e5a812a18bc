using IdentityServer.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace IdentityServer.Tests.Persistence;

/// <summary>
/// The SQL scripts in deploy/sql are what a DBA runs instead of <c>migrate</c>; they must be exactly what the
/// migrations produce, and the migrations must match the model. Neither needs a database server: the scripts
/// and the model diff are computed from the compiled migrations alone.
/// </summary>
public sealed class MigrationScriptTests
{
    public static TheoryData<string> Providers => ["Sqlite", "PostgreSql", "SqlServer"];

    [Theory]
    [MemberData(nameof(Providers))]
    public void The_checked_in_sql_script_is_what_the_migrations_generate(string provider)
    {
        using var context = CreateContext(provider);
        var (file, idempotent) = ScriptFor(provider);
        var generated = context.GetService<IMigrator>().GenerateScript(
            // EF Core cannot make idempotent scripts for SQLite (no procedural IF); that one is the plain script.
            options: idempotent ? MigrationsSqlGenerationOptions.Idempotent : MigrationsSqlGenerationOptions.Default);

        var path = Path.Combine(RepositoryRoot(), "deploy", "sql", file);
        Assert.True(File.Exists(path), $"{path} is missing. Create it with: {RegenerateCommand(provider)}");
        var checkedIn = File.ReadAllText(path);

        Assert.True(Normalize(checkedIn) == Normalize(generated),
            $"deploy/sql/{file} does not match the migrations. Regenerate it from the repository root with: {RegenerateCommand(provider)}");
        Assert.Contains("__EFMigrationsHistory", generated, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public void The_migrations_match_the_model(string provider)
    {
        using var context = CreateContext(provider);

        Assert.NotEmpty(context.Database.GetMigrations());
        Assert.False(context.Database.HasPendingModelChanges(),
            $"The model has changes that no {provider} migration captures. Add one with: " +
            $"dotnet ef migrations add <Name> --project src/IdentityServer --context {provider}ApplicationDbContext --output-dir Persistence/Migrations/{provider}");
    }

    private static ApplicationDbContext CreateContext(string provider) => provider switch
    {
        // Connection strings are placeholders: nothing here opens a connection.
        "Sqlite" => new SqliteApplicationDbContext(new DbContextOptionsBuilder<SqliteApplicationDbContext>()
            .UseSqlite("Data Source=unused.db").UseOpenIddict().Options),
        "PostgreSql" => new PostgreSqlApplicationDbContext(new DbContextOptionsBuilder<PostgreSqlApplicationDbContext>()
            .UseNpgsql("Host=unused;Database=unused").UseOpenIddict().Options),
        "SqlServer" => new SqlServerApplicationDbContext(new DbContextOptionsBuilder<SqlServerApplicationDbContext>()
            .UseSqlServer("Server=unused;Database=unused").UseOpenIddict().Options),
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, null),
    };

    private static (string File, bool Idempotent) ScriptFor(string provider) => provider switch
    {
        "Sqlite" => ("sqlite.sql", false),
        "PostgreSql" => ("postgresql.sql", true),
        _ => ("sqlserver.sql", true),
    };

    private static string RegenerateCommand(string provider)
    {
        var (file, idempotent) = ScriptFor(provider);
        return $"dotnet tool restore && dotnet ef migrations script{(idempotent ? " --idempotent" : "")} " +
            $"--project src/IdentityServer --context {provider}ApplicationDbContext --output deploy/sql/{file}";
    }

    private static string Normalize(string sql) => sql.TrimStart('\uFEFF').ReplaceLineEndings("\n").Trim();

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "IdentityServer.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No IdentityServer.sln above {AppContext.BaseDirectory}.");
    }
}
