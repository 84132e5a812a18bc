using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IdentityServer.Benchmarks;

if (args.Length > 0 && args[0] == "micro")
{
    // In-process (BenchmarkDotNet's generated projects would trip this repository's central package management),
    // and short: 3 warm-ups and 3 iterations are enough to tell microseconds from milliseconds.
    var config = DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
    BenchmarkSwitcher.FromAssembly(typeof(Options).Assembly).Run(args[1..], config);
    return 0;
}

if (args.Length == 2 && args[0] == "floor-server")
{
    return await FloorServer.RunAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
}

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(Options.Usage);
    return 0;
}

Options options;
try
{
    options = Options.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(Options.Usage);
    return 2;
}

_ = Report.LoadAverageAtStart;
var serverDll = options.ServerDll ?? FindServerDll();
Console.WriteLine($"Server: {serverDll}");
Console.WriteLine($"Provider {options.Provider}, {options.Connections} connections, {options.Warmup.TotalSeconds} s warm-up + {options.Duration.TotalSeconds} s per flow, BCrypt cost {options.BcryptCost}");

var bcryptVerifyMs = BcryptCeiling.MeasureVerifyMs(options.BcryptCost);
Console.WriteLine($"BCrypt verify at cost {options.BcryptCost}: {bcryptVerifyMs:F1} ms (ceiling {Environment.ProcessorCount * 1000 / bcryptVerifyMs:F1} logins/s on {Environment.ProcessorCount} cores)");

using var http = Http.CreateClient(options.Connections);
var results = new List<FlowResult>();
long ourPeakRss;
string? oidcProviderVersion = null;
ProbeResult? discoveryDuringLogins;
using (var database = await BenchDatabase.CreateAsync(options))
{
    await using var ours = await OurServer.StartAsync(options, serverDll, database.ConnectionString, http);
    Console.WriteLine($"IdentityServer pid {ours.Process.Pid} on {ours.Process.BaseAddress}");
    await foreach (var result in ours.RunAsync(options))
    {
        results.Add(result);
    }

    ourPeakRss = ours.Process.PeakResidentBytes;
    discoveryDuringLogins = ours.DiscoveryDuringLogins;
    if (discoveryDuringLogins is { } probe)
    {
        Console.WriteLine($"  discovery during the logins: {probe.Requests} requests, p50 {probe.P50Ms:F1} ms, p99 {probe.P99Ms:F1} ms, max {probe.MaxMs:F1} ms, errors {probe.Errors}");
    }

    if (ours.BcryptVerifyMsAroundLogin is { } aroundLogin)
    {
        Console.WriteLine($"BCrypt verify around the logins: {aroundLogin:F1} ms");
        bcryptVerifyMs = aroundLogin;
    }
}

if (options.CompareWithOidcProvider)
{
    try
    {
        await using var theirs = await OidcProvider.StartAsync(http, options);
        oidcProviderVersion = theirs.Version;
        Console.WriteLine($"oidc-provider {theirs.Version} pid {theirs.Process.Pid} on {theirs.Process.BaseAddress}");
        await foreach (var result in theirs.RunAsync(options))
        {
            results.Add(result);
        }
    }
    catch (Exception e) when (e is InvalidOperationException or TimeoutException or HttpRequestException or System.ComponentModel.Win32Exception or BenchmarkException)
    {
        Console.Error.WriteLine($"oidc-provider comparison skipped: {e.Message}");
    }
}

if (options.CompareWithOidcProvider && options.Runs("client_credentials"))
{
    try
    {
        await using var floor = await FloorServer.StartAsync(http, options.ServerEnvironment);
        Console.WriteLine($"floor (ASP.NET Core + one RS256 signature) pid {floor.Pid} on {floor.BaseAddress}");
        results.Add(await LoadRunner.RunAsync("client_credentials", floor, options.Connections, options.Warmup, options.Duration,
            (w, ct) => FloorServer.ClientCredentialsAsync(http, floor, ct)));
    }
    catch (Exception e) when (e is InvalidOperationException or TimeoutException or HttpRequestException or BenchmarkException)
    {
        Console.Error.WriteLine($"floor skipped: {e.Message}");
    }
}

var report = Report.Markdown(options, results, bcryptVerifyMs, ourPeakRss, oidcProviderVersion, discoveryDuringLogins);
await File.WriteAllTextAsync(options.Output, report);
Console.WriteLine();
Console.WriteLine(report);
Console.WriteLine($"Written to {Path.GetFullPath(options.Output)}");
return 0;

static string FindServerDll()
{
    for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
    {
        var candidate = Path.Combine(folder.FullName, "src", "IdentityServer", "bin", "Release", "net10.0", "IdentityServer.dll");
        if (File.Exists(candidate))
        {
            return candidate;
        }
    }

    throw new FileNotFoundException("src/IdentityServer/bin/Release/net10.0/IdentityServer.dll was not found: run with -c Release, or pass --server-dll.");
}
