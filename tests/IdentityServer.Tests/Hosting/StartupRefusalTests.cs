using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Hosting;

/// <summary>What an operator sees when the server will not start: exit code 1 and one line saying why, not a crash.</summary>
public sealed class StartupRefusalTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("ids-refusal-").FullName;

    [Fact]
    public async Task A_setting_out_of_range_stops_the_server_with_exit_code_1_and_a_line_naming_it()
    {
        var (exitCode, _, error) = await ServerProcess.RunToExitAsync([], new Dictionary<string, string>
        {
            ["ConnectionStrings__IdentityServer"] = $"Data Source={Path.Combine(folder, "ids.db")}",
            ["Passwords__BcryptWorkFactor"] = "3",
        });

        Assert.Equal(1, exitCode);
        Assert.Contains("IdentityServer stopped:", error, StringComparison.Ordinal);
        Assert.Contains("Settings under 'Passwords':", error, StringComparison.Ordinal);
        Assert.Contains("BcryptWorkFactor must be between 4 and 31", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_proxy_address_that_is_not_one_stops_the_server_naming_the_key_and_the_value()
    {
        var (exitCode, _, error) = await ServerProcess.RunToExitAsync([], new Dictionary<string, string>
        {
            ["ConnectionStrings__IdentityServer"] = $"Data Source={Path.Combine(folder, "ids.db")}",
            ["ForwardedHeaders__KnownProxies"] = "10.0.0.5,notanip",
            ["ForwardedHeaders__KnownNetworks"] = "10.0.0.0/99",
        });

        Assert.Equal(1, exitCode);
        Assert.Contains("ForwardedHeaders:KnownProxies must hold IP addresses; 'notanip' is not one.", error, StringComparison.Ordinal);
        Assert.Contains("ForwardedHeaders:KnownNetworks must hold CIDR ranges such as 10.0.0.0/8; '10.0.0.0/99' is not one.", error, StringComparison.Ordinal);
        Assert.DoesNotContain("'10.0.0.5'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_database_provider_stops_the_server_with_exit_code_1_and_the_values_it_takes()
    {
        var (exitCode, _, error) = await ServerProcess.RunToExitAsync([], new Dictionary<string, string>
        {
            ["Database__Provider"] = "Oracle",
        });

        Assert.Equal(1, exitCode);
        Assert.Contains("IdentityServer stopped: Configuration key 'Database:Provider' has the unknown value 'Oracle'. Use Sqlite, SqlServer or PostgreSql.", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("2")]
    public async Task A_provider_given_by_number_is_refused_like_any_unknown_value(string value)
    {
        var (exitCode, _, error) = await ServerProcess.RunToExitAsync([], new Dictionary<string, string>
        {
            ["Database__Provider"] = value,
        });

        Assert.Equal(1, exitCode);
        Assert.Contains($"Configuration key 'Database:Provider' has the unknown value '{value}'.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostgreSql_without_a_connection_string_stops_the_server_naming_the_missing_key()
    {
        var (exitCode, _, error) = await ServerProcess.RunToExitAsync([], new Dictionary<string, string>
        {
            ["Database__Provider"] = "PostgreSql",
        });

        Assert.Equal(1, exitCode);
        Assert.Contains("Configuration key 'ConnectionStrings:IdentityServer' is required when 'Database:Provider' is PostgreSql.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pruning_redeemed_refresh_tokens_before_they_expire_stops_the_server()
    {
        var (exitCode, _, error) = await ServerProcess.RunToExitAsync([], new Dictionary<string, string>
        {
            ["ConnectionStrings__IdentityServer"] = $"Data Source={Path.Combine(folder, "ids.db")}",
            ["IdentityServer__RefreshTokenLifetime"] = "1.00:00:00",
            ["Pruning__RetainFor"] = "00:10:00",
        });

        Assert.Equal(1, exitCode);
        Assert.Contains("Pruning:RetainFor (00:10:00) must be at least IdentityServer:RefreshTokenLifetime (1.00:00:00)", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://example.test/my%20id", "IdentityServer:Issuer's path must be made of plain segments")]
    [InlineData("https://example.test/id//realm", "IdentityServer:Issuer's path must be made of plain segments")]
    [InlineData("https://example.test/id/../x", "IdentityServer:Issuer's path must be made of plain segments")]
    [InlineData("https://example.test/id\\x", "IdentityServer:Issuer's path must be made of plain segments")]
    [InlineData("https://user:secret@example.test/id", "IdentityServer:Issuer must not hold a user name or password")]
    public async Task An_issuer_whose_path_is_not_plain_segments_stops_the_server(string issuer, string message)
    {
        var (exitCode, _, error) = await ServerProcess.RunToExitAsync([], new Dictionary<string, string>
        {
            ["ConnectionStrings__IdentityServer"] = $"Data Source={Path.Combine(folder, "ids.db")}",
            ["IdentityServer__Issuer"] = issuer,
        });

        Assert.Equal(1, exitCode);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_collector_address_that_is_not_a_url_stops_the_server_naming_the_key()
    {
        var (exitCode, _, error) = await ServerProcess.RunToExitAsync([], new Dictionary<string, string>
        {
            ["ConnectionStrings__IdentityServer"] = $"Data Source={Path.Combine(folder, "ids.db")}",
            ["Telemetry__OtlpEndpoint"] = "notaurl",
        });

        Assert.Equal(1, exitCode);
        Assert.Contains("Configuration key 'Telemetry:OtlpEndpoint' must be an absolute URL", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_already_taken_stops_the_server_with_one_line_and_no_failed_background_service()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;

        var (exitCode, output, error) = await ServerProcess.RunToExitAsync([], new Dictionary<string, string>
        {
            ["ConnectionStrings__IdentityServer"] = $"Data Source={Path.Combine(folder, "ids.db")}",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        });

        Assert.Equal(1, exitCode);
        Assert.Contains($"IdentityServer stopped: Failed to bind to address http://127.0.0.1:{port}", error, StringComparison.Ordinal);
        Assert.DoesNotContain("BackgroundService failed", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_empty_database_with_migrations_at_start_turned_off_stops_the_server_saying_to_run_migrate()
    {
        var (exitCode, output, error) = await ServerProcess.RunToExitAsync([], new Dictionary<string, string>
        {
            ["ConnectionStrings__IdentityServer"] = $"Data Source={Path.Combine(folder, "ids.db")}",
            ["Database__MigrateOnStartup"] = "false",
        });

        Assert.Equal(1, exitCode);
        Assert.Contains("Database:MigrateOnStartup is false: run `dotnet IdentityServer.dll migrate` first", error, StringComparison.Ordinal);
        Assert.DoesNotContain("no such table", output + error, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", output, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(folder, recursive: true);
    }
}
