using System.Globalization;

namespace IdentityServer.Benchmarks;

/// <summary>Command-line settings of a load run. Every value has a default; see <see cref="Usage"/>.</summary>
internal sealed class Options
{
    public string Provider { get; private set; } = "Sqlite";

    /// <summary>PostgreSQL: a connection string to a server where the benchmark may create (and drop) a database.</summary>
    public string? Connection { get; private set; }

    public TimeSpan Duration { get; private set; } = TimeSpan.FromSeconds(10);

    public TimeSpan Warmup { get; private set; } = TimeSpan.FromSeconds(3);

    public int Connections { get; private set; } = 16;

    public int BcryptCost { get; private set; } = 12;

    public string Output { get; private set; } = "benchmark-results.md";

    public bool CompareWithOidcProvider { get; private set; } = true;

    public string? ServerDll { get; private set; }

    public string? Note { get; private set; }

    public HashSet<string>? Flows { get; private set; }

    /// <summary>Extra environment variables for the server under test (experiments: GC modes, settings).</summary>
    public Dictionary<string, string> ServerEnvironment { get; } = new(StringComparer.Ordinal);

    public bool Runs(string flow) => Flows is null || Flows.Contains(flow);

    public const string Usage = """
        dotnet run -c Release --project tests/IdentityServer.Benchmarks -- [options]
        dotnet run -c Release --project tests/IdentityServer.Benchmarks -- micro [BenchmarkDotNet options, e.g. --filter *]

          --provider Sqlite|PostgreSql   database of the server under test (default Sqlite: a temp file)
          --connection "<conn string>"   PostgreSQL server to create a throw-away database on (required for PostgreSql)
          --duration <seconds>           measured time per flow (default 10)
          --warmup <seconds>             unmeasured time per flow before it, at least (default 3; a .NET server is
                                 warmed on while its runtime is still compiling, up to 30 s, and
                                 oidc-provider as long as ours)
          --connections <n>              concurrent connections and workers (default 16)
          --bcrypt-cost <n>              Passwords:BcryptWorkFactor of the server (default 12)
          --output <file.md>             where the markdown table goes (default benchmark-results.md)
          --flows a,b,c                  only these: discovery, client_credentials, client_credentials_pbkdf2,
                                         introspection, userinfo, refresh_token, login
          --no-oidc-provider             skip the comparisons: oidc-provider (npm), which runs discovery,
                                         client_credentials, introspection, userinfo and refresh_token, and the
                                         floor (an ASP.NET Core endpoint doing only one RS256 signature per
                                         client_credentials request)
          --server-dll <path>            IdentityServer.dll to run (default: the Release build in src/IdentityServer)
          --note "<text>"                a line for the report, e.g. "machine shared with other builds"
          --server-env KEY=VALUE         an extra environment variable for the server (repeatable), e.g. DOTNET_gcServer=0
        """;

    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--provider":
                    options.Provider = Value() switch
                    {
                        var p when p.Equals("sqlite", StringComparison.OrdinalIgnoreCase) => "Sqlite",
                        var p when p.Equals("postgresql", StringComparison.OrdinalIgnoreCase) || p.Equals("postgres", StringComparison.OrdinalIgnoreCase) => "PostgreSql",
                        var p => throw new ArgumentException($"Unknown provider '{p}': use Sqlite or PostgreSql."),
                    };
                    break;
                case "--connection": options.Connection = Value(); break;
                case "--duration": options.Duration = TimeSpan.FromSeconds(Positive(Value())); break;
                case "--warmup": options.Warmup = TimeSpan.FromSeconds(double.Parse(Value(), CultureInfo.InvariantCulture)); break;
                case "--connections": options.Connections = (int)Positive(Value()); break;
                case "--bcrypt-cost": options.BcryptCost = (int)Positive(Value()); break;
                case "--output": options.Output = Value(); break;
                case "--no-oidc-provider": options.CompareWithOidcProvider = false; break;
                case "--server-dll": options.ServerDll = Value(); break;
                case "--note": options.Note = Value(); break;
                case "--server-env":
                    var setting = Value().Split('=', 2);
                    options.ServerEnvironment[setting[0]] = setting.Length > 1 ? setting[1] : "";
                    break;
                case "--flows": options.Flows = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]; break;
                default: throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }

        if (options.Provider == "PostgreSql" && string.IsNullOrEmpty(options.Connection))
        {
            throw new ArgumentException("--provider PostgreSql needs --connection \"Host=...;Username=...;Password=...\".");
        }

        if (options.Duration > TimeSpan.FromMinutes(10) || options.Connections > 512)
        {
            throw new ArgumentException("Load is bounded: at most 600 s per flow and 512 connections.");
        }

        return options;
    }

    private static double Positive(string value)
    {
        var number = double.Parse(value, CultureInfo.InvariantCulture);
        return number > 0 ? number : throw new ArgumentException($"'{value}' must be positive.");
    }
}
