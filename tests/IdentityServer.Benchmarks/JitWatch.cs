using System.Globalization;

namespace IdentityServer.Benchmarks;

/// <summary>
/// CPU time of a .NET server's tiered-compilation thread, read from /proc: the runtime compiles hot methods again,
/// optimised, in the background for a while after a new code path gets busy, and that CPU is no part of a request's
/// steady cost. The thread leaves when idle and a new one comes with the next work, so each thread is followed by id.
/// </summary>
internal sealed class JitWatch(int pid)
{
    private const string ThreadName = ".NET Tiered Com";
    private static readonly double SecondsPerTick = 1.0 / 100;   // USER_HZ on Linux
    private readonly Dictionary<int, long> ticksSeen = [];

    /// <summary>Whether the process runs on .NET (its runtime names its threads ".NET ...").</summary>
    public static bool IsDotNet(int pid) => Threads(pid).Any(thread => thread.Name.StartsWith(".NET ", StringComparison.Ordinal));

    /// <summary>The tiered-compilation CPU time since the previous call.</summary>
    public TimeSpan Take()
    {
        long ticks = 0;
        foreach (var (id, name, total) in Threads(pid))
        {
            if (name != ThreadName)
            {
                continue;
            }

            ticks += total - ticksSeen.GetValueOrDefault(id);
            ticksSeen[id] = total;
        }

        return TimeSpan.FromSeconds(ticks * SecondsPerTick);
    }

    private static IEnumerable<(int Id, string Name, long Ticks)> Threads(int pid)
    {
        string[] folders;
        try
        {
            folders = Directory.GetDirectories($"/proc/{pid}/task");
        }
        catch (IOException)
        {
            yield break;
        }

        foreach (var folder in folders)
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(folder, "stat"));
            }
            catch (IOException)
            {
                continue;   // the thread ended meanwhile
            }

            // "tid (name) state ...": the name may hold spaces; utime and stime are the 12th and 13th fields after it.
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            yield return (int.Parse(stat[..(open - 1)], CultureInfo.InvariantCulture), stat[(open + 1)..close],
                long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
        }
    }
}
