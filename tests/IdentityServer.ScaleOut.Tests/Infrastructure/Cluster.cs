using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace IdentityServer.ScaleOut.Tests.Infrastructure;

/// <summary>
/// Two IdentityServer processes on free 127.0.0.1 ports sharing one fresh PostgreSQL database, and nginx
/// round-robin in front of them. Everything is a child process, killed and cleaned up on dispose.
/// </summary>
public sealed class Cluster : IAsyncLifetime
{
    public const string PostgresVariable = "IDENTITYSERVER_TEST_POSTGRES";
    public const string AdminClientId = "admin-cli";
    public const string AdminClientSecret = "scale-out-admin-secret-0123456789";

    private readonly string databaseName = "ids_scaleout_" + Guid.NewGuid().ToString("N")[..16];
    private readonly DirectoryInfo workDirectory = Directory.CreateTempSubdirectory("ids-scaleout-");
    private string? serverConnectionString;

    public ServerProcess A { get; private set; } = null!;

    public ServerProcess B { get; private set; } = null!;

    public NginxProcess Nginx { get; private set; } = null!;

    /// <summary>The public address: nginx. Every instance uses it as its issuer.</summary>
    public Uri Public => Nginx.BaseAddress;

    public async Task InitializeAsync()
    {
        var postgres = Environment.GetEnvironmentVariable(PostgresVariable)
            ?? throw new InvalidOperationException(
                $"{PostgresVariable} is required for the scale-out tests (the PostgreSQL pass): \"Host=127.0.0.1;Port=...;Username=...;Password=...\".");
        serverConnectionString = postgres;

        var nginxPort = FreePort();
        var issuer = new Uri($"http://127.0.0.1:{nginxPort}/");
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Database__Provider"] = "PostgreSql",
            ["ConnectionStrings__IdentityServer"] = postgres + ";Database=" + databaseName,
            ["IdentityServer__Issuer"] = issuer.GetLeftPart(UriPartial.Authority),   // the origin, published as written
            ["ForwardedHeaders__KnownProxies__0"] = "127.0.0.1",
            ["Bootstrap__AdminClientId"] = AdminClientId,
            ["Bootstrap__AdminClientSecret"] = AdminClientSecret,
            ["Passwords__BcryptWorkFactor"] = "4",
            ["RateLimits__Enabled"] = "false",
            ["Logging__LogLevel__Default"] = "Warning",
        };

        // One after the other: the first creates the schema, the keys and the bootstrap client, as on a first
        // deployment; the second finds them. Both then serve from the same rows.
        A = await ServerProcess.StartAsync("A", FreePort(), environment);
        B = await ServerProcess.StartAsync("B", FreePort(), environment);
        Nginx = await NginxProcess.StartAsync(workDirectory.FullName, nginxPort, [A.Port, B.Port]);
    }

    public async Task DisposeAsync()
    {
        Nginx?.Dispose();
        A?.Dispose();
        B?.Dispose();
        if (serverConnectionString is not null)
        {
            var builder = new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = "postgres", Pooling = false };
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{databaseName}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }

        try
        {
            workDirectory.Delete(recursive: true);
        }
        catch (IOException)
        {
            // nginx may still be closing its logs; the temp folder is the system's to clean.
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Polls until something accepts and answers, within a bound; the process is checked each round.</summary>
    internal static async Task WaitUntilAsync(Func<Task<bool>> ready, Func<string?> failed, TimeSpan bound, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < bound)
        {
            if (failed() is { } reason)
            {
                throw new InvalidOperationException($"{what} stopped before it was ready: {reason}");
            }

            if (await ready())
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{what} was not ready within {bound.TotalSeconds:0} s. {failed()}");
    }
}

/// <summary>The published host (src/IdentityServer's build output) as its own process.</summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process process;
    private readonly ConcurrentQueue<string> output = new();

    private ServerProcess(string name, int port, Process process)
    {
        Name = name;
        Port = port;
        this.process = process;
    }

    public string Name { get; }

    public int Port { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");

    public bool HasExited => process.HasExited;

    /// <summary>The last lines the process wrote, for failure messages.</summary>
    public string Output => string.Join(Environment.NewLine, output.TakeLast(40));

    public static async Task<ServerProcess> StartAsync(string name, int port, IReadOnlyDictionary<string, string> environment)
    {
        var dll = ServerDll();
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove("ASPNETCORE_HTTP_PORTS");
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {dll}.");
        var server = new ServerProcess(name, port, process);
        // Drained continuously: a full pipe would block the server's logging.
        process.OutputDataReceived += (_, line) => server.Keep(line.Data);
        process.ErrorDataReceived += (_, line) => server.Keep(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Cluster.WaitUntilAsync(
            async () =>
            {
                try
                {
                    using var response = await http.GetAsync(new Uri(server.BaseAddress, "health/ready"));
                    return response.IsSuccessStatusCode;
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    return false;
                }
            },
            () => process.HasExited ? $"exit code {process.ExitCode}{Environment.NewLine}{server.Output}" : null,
            TimeSpan.FromSeconds(120),
            $"IdentityServer {name} on port {port}");
        return server;
    }

    /// <summary>A crash, not a shutdown: SIGKILL, no draining of requests in flight.</summary>
    public void Kill()
    {
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            Kill();
        }

        process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        output.Enqueue(line);
        while (output.Count > 200)
        {
            output.TryDequeue(out _);
        }
    }

    /// <summary>src/IdentityServer's own build output in this test build's configuration, or IDENTITYSERVER_SCALEOUT_DLL.</summary>
    private static string ServerDll()
    {
        if (Environment.GetEnvironmentVariable("IDENTITYSERVER_SCALEOUT_DLL") is { Length: > 0 } configured)
        {
            return configured;
        }

        // .../tests/IdentityServer.ScaleOut.Tests/bin/<Configuration>/net10.0/
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testOutput.Name;
        var configuration = testOutput.Parent!.Name;
        var repository = testOutput;
        while (repository is not null && !File.Exists(Path.Combine(repository.FullName, "IdentityServer.sln")))
        {
            repository = repository.Parent;
        }

        var dll = Path.Combine(repository?.FullName ?? ".", "src", "IdentityServer", "bin", configuration, framework, "IdentityServer.dll");
        return File.Exists(dll)
            ? dll
            : throw new FileNotFoundException($"The server build was not found at {dll}; build src/IdentityServer or set IDENTITYSERVER_SCALEOUT_DLL.", dll);
    }
}

/// <summary>nginx in the foreground with a generated configuration; every file it writes stays in its folder.</summary>
public sealed class NginxProcess : IDisposable
{
    public const string Binary = "/usr/sbin/nginx";

    private readonly Process process;
    private readonly string directory;

    private NginxProcess(Process process, string directory, int port)
    {
        this.process = process;
        this.directory = directory;
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
    }

    public Uri BaseAddress { get; }

    public string ErrorLog => File.Exists(Path.Combine(directory, "error.log")) ? File.ReadAllText(Path.Combine(directory, "error.log")) : string.Empty;

    public static async Task<NginxProcess> StartAsync(string workDirectory, int port, IReadOnlyList<int> upstreamPorts)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"{Binary} is missing: run scripts/install-nginx.sh.");
        }

        var directory = Path.Combine(workDirectory, "nginx");
        Directory.CreateDirectory(directory);
        var config = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(config, Config(directory, port, upstreamPorts));

        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-p", directory + "/", "-e", Path.Combine(directory, "error.log"), "-c", config, "-g", "daemon off;" })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start nginx.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var nginx = new NginxProcess(process, directory, port);
        await Cluster.WaitUntilAsync(
            async () =>
            {
                using var client = new TcpClient();
                try
                {
                    await client.ConnectAsync(IPAddress.Loopback, port);
                    return true;
                }
                catch (SocketException)
                {
                    return false;
                }
            },
            () => process.HasExited ? $"exit code {process.ExitCode}: {nginx.ErrorLog}" : null,
            TimeSpan.FromSeconds(20),
            $"nginx on port {port}");
        return nginx;
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        process.Dispose();
    }

    private static string Config(string directory, int port, IReadOnlyList<int> upstreamPorts)
    {
        // Workers of a root master would switch to "nobody", who cannot read a private temp folder.
        var user = Environment.UserName == "root" ? "user root;" : string.Empty;
        var servers = string.Concat(upstreamPorts.Select(p => $"    server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;\n"));
        return $$"""
            {{user}}
            worker_processes 1;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log warn;
            events { worker_connections 512; }
            http {
              access_log off;
              client_body_temp_path {{directory}}/client_body;
              proxy_temp_path {{directory}}/proxy;
              fastcgi_temp_path {{directory}}/fastcgi;
              uwsgi_temp_path {{directory}}/uwsgi;
              scgi_temp_path {{directory}}/scgi;
              upstream identityserver {
            {{servers}}  }
              server {
                listen 127.0.0.1:{{port}};
                location / {
                  proxy_pass http://identityserver;
                  proxy_set_header Host $http_host;
                  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                  proxy_set_header X-Forwarded-Proto $scheme;
                  proxy_set_header X-Forwarded-Host $http_host;
                  # A refused connection (instance gone) is retried on the other instance, POSTs included:
                  # nothing was sent yet. A request already sent is never replayed (non_idempotent is off).
                  proxy_next_upstream error timeout;
                  proxy_connect_timeout 2s;
                  proxy_read_timeout 60s;
                }
              }
            }
            """;
    }
}
