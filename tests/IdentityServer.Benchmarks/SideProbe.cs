using System.Diagnostics;

namespace IdentityServer.Benchmarks;

/// <summary>What one more client saw while a flow loaded the server.</summary>
internal sealed record ProbeResult(string Path, int Requests, int Errors, double P50Ms, double P99Ms, double MaxMs);

/// <summary>
/// One more client, on a connection of its own, asking for one path every 50 ms while a flow loads the server: whether
/// that load (a burst of BCrypt logins) stalls everyone else. Paced, so that it adds almost nothing to the load.
/// </summary>
internal static class SideProbe
{
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(50);

    public static async Task<ProbeResult> WhileAsync(Uri baseAddress, string path, Task load)
    {
        using var http = Http.CreateClient(1);
        var latencies = new List<double>();
        var errors = 0;
        while (!load.IsCompleted)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                using var response = await http.GetAsync(new Uri(baseAddress, path));
                await response.Content.LoadIntoBufferAsync();
                if (response.IsSuccessStatusCode)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
                else
                {
                    errors++;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                errors++;
            }

            await Task.WhenAny(load, Task.Delay(Pace));
        }

        latencies.Sort();
        return new ProbeResult(path, latencies.Count, errors, Percentile(0.50), Percentile(0.99), latencies.Count == 0 ? double.NaN : latencies[^1]);

        double Percentile(double quantile) => latencies.Count == 0
            ? double.NaN
            : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(quantile * latencies.Count) - 1)];
    }
}
