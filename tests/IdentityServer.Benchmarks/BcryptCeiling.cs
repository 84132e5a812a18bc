using System.Diagnostics;

namespace IdentityServer.Benchmarks;

/// <summary>The BCrypt ceiling logins are held to: 2 cores x 1 / (one verify at the configured cost).</summary>
internal static class BcryptCeiling
{
    /// <summary>The median of five verifies on one thread, after one to warm up.</summary>
    public static double MeasureVerifyMs(int cost)
    {
        var hash = BCrypt.Net.BCrypt.HashPassword("bench-password-0", cost);
        BCrypt.Net.BCrypt.Verify("bench-password-0", hash);
        var times = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            BCrypt.Net.BCrypt.Verify("bench-password-0", hash);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        return times[times.Count / 2];
    }
}
