using System.Diagnostics;

namespace IdentityServer.Benchmarks;

/// <summary>What one flow measured against one server.</summary>
internal sealed record FlowResult(
    string Flow,
    string Server,
    int Connections,
    long Operations,
    long Errors,
    string? FirstError,
    double Seconds,
    double P50Ms,
    double P99Ms,
    double ServerCpuSeconds,
    long PeakRssBytes,
    double ClientCpuSeconds,
    double WarmupSeconds,
    double? JitCpuSeconds)
{
    public double PerSecond => Operations / Seconds;

    /// <summary>Operations per second of server CPU: req/s divided by CPU-seconds the server used per wall-second.</summary>
    public double PerCpuSecond => ServerCpuSeconds > 0 ? Operations / ServerCpuSeconds : 0;

    public double CpuMsPerOperation => Operations > 0 ? ServerCpuSeconds * 1000 / Operations : 0;

    /// <summary>Cores the server kept busy on average.</summary>
    public double CoresUsed => ServerCpuSeconds / Seconds;

    /// <summary>Of the server's CPU in the measured window, the share its runtime spent compiling (.NET only).</summary>
    public double? JitShare => JitCpuSeconds / ServerCpuSeconds;
}

/// <summary>
/// Drives one operation from N async workers over a shared connection pool for a fixed time: first a warm-up whose
/// figures are dropped, then the measured window. Bounded in time; an operation started before the deadline finishes.
/// </summary>
internal static class LoadRunner
{
    public delegate Task Operation(int worker, CancellationToken cancellationToken);

    /// <summary>The longest a .NET server is warmed up for one flow while its runtime is still compiling.</summary>
    private static readonly TimeSpan MaxWarmup = TimeSpan.FromSeconds(30);

    /// <summary>How long each flow warmed our server up; the other servers get as long, so that all are compared warm.</summary>
    private static readonly Dictionary<string, TimeSpan> OurWarmups = new(StringComparer.Ordinal);

    public static async Task<FlowResult> RunAsync(string flow, ChildProcess server, int connections, TimeSpan warmup, TimeSpan duration, Operation operation)
    {
        Console.Write($"  {server.Name,-15} {flow,-26} ");
        if (OurWarmups.TryGetValue(flow, out var ours) && ours > warmup)
        {
            warmup = ours;
        }

        if (warmup > TimeSpan.Zero)
        {
            await RunWorkersAsync(connections, warmup, operation);
        }

        // A .NET server is warmed up on until its runtime stops compiling (re-compiling hot methods optimised takes
        // 10-20 s of busy time for a new flow on 2 cores, and was up to 15-20% of a 10 s window's CPU otherwise).
        JitWatch? jit = JitWatch.IsDotNet(server.Pid) ? new JitWatch(server.Pid) : null;
        if (jit is not null)
        {
            var slice = TimeSpan.FromSeconds(1);
            while (warmup < MaxWarmup)
            {
                jit.Take();
                var cpuBefore = server.CpuTime;
                await RunWorkersAsync(connections, slice, operation);
                warmup += slice;
                if (jit.Take() <= (server.CpuTime - cpuBefore) * 0.02)
                {
                    break;
                }
            }

            if (server.Name == "IdentityServer")
            {
                OurWarmups[flow] = warmup;
            }

            jit.Take();
        }

        var self = Process.GetCurrentProcess();
        var clientCpuBefore = self.TotalProcessorTime;
        var serverCpuBefore = server.CpuTime;
        long peakRss = server.ResidentBytes;
        using var stopPolling = new CancellationTokenSource();
        var polling = Task.Run(async () =>
        {
            while (!stopPolling.IsCancellationRequested)
            {
                peakRss = Math.Max(peakRss, server.ResidentBytes);
                try
                {
                    await Task.Delay(100, stopPolling.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        });

        var clock = Stopwatch.StartNew();
        var outcome = await RunWorkersAsync(connections, duration, operation);
        var seconds = clock.Elapsed.TotalSeconds;
        var serverCpu = (server.CpuTime - serverCpuBefore).TotalSeconds;
        var jitCpu = jit?.Take().TotalSeconds;
        self.Refresh();
        var clientCpu = (self.TotalProcessorTime - clientCpuBefore).TotalSeconds;
        await stopPolling.CancelAsync();
        await polling;
        peakRss = Math.Max(peakRss, server.ResidentBytes);

        var latencies = outcome.Latencies;
        latencies.Sort();
        var result = new FlowResult(flow, server.Name, connections, latencies.Count, outcome.Errors, outcome.FirstError, seconds,
            Percentile(latencies, 0.50), Percentile(latencies, 0.99), serverCpu, peakRss, clientCpu, warmup.TotalSeconds, jitCpu);
        Console.WriteLine($"{result.PerSecond,9:F1}/s  p50 {result.P50Ms,7:F1} ms  p99 {result.P99Ms,7:F1} ms  " +
            $"{result.PerCpuSecond,8:F0}/CPU-s  errors {result.Errors}{(result.FirstError is null ? "" : " (" + result.FirstError + ")")}" +
            $"  warm-up {warmup.TotalSeconds:F0} s{(result.JitShare is { } share ? $", JIT {share:P0} of CPU" : "")}");
        return result;
    }

    private sealed record Outcome(List<double> Latencies, long Errors, string? FirstError);

    private static async Task<Outcome> RunWorkersAsync(int connections, TimeSpan duration, Operation operation)
    {
        using var stop = new CancellationTokenSource();
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long errors = 0;
        string? firstError = null;
        var perWorker = new List<double>[connections];

        async Task WorkerAsync(int worker)
        {
            var latencies = perWorker[worker] = new List<double>(4096);
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var start = Stopwatch.GetTimestamp();
                try
                {
                    await operation(worker, stop.Token);
                    latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
                catch (Exception e) when (e is HttpRequestException or BenchmarkException or TaskCanceledException or IOException)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, e.Message, null);
                    // A failing operation must not spin: back off a little.
                    await Task.Delay(10);
                }
            }
        }

        // A hard cap well past the deadline, so that a hung server cannot keep the run going.
        stop.CancelAfter(duration + TimeSpan.FromSeconds(30));
        await Task.WhenAll(Enumerable.Range(0, connections).Select(worker => Task.Run(() => WorkerAsync(worker))));
        return new Outcome([.. perWorker.SelectMany(l => l)], errors, firstError);
    }

    private static double Percentile(List<double> sorted, double quantile) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(quantile * sorted.Count) - 1)];
}

/// <summary>An operation's answer was not what the flow expects (wrong status, missing field).</summary>
internal sealed class BenchmarkException(string message) : Exception(message);
