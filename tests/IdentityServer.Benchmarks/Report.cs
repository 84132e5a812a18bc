using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace IdentityServer.Benchmarks;

/// <summary>The markdown report: machine, settings, one row per flow and server, the comparison, and the targets.</summary>
internal static class Report
{
    private const string Ours = "IdentityServer";
    private const string Theirs = "oidc-provider";

    public static string LoadAverageAtStart { get; } = ReadLoadAverage();

    public static string Markdown(
        Options options, IReadOnlyList<FlowResult> results, double bcryptVerifyMs, long ourPeakRss, string? oidcProviderVersion, ProbeResult? duringLogins)
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine("## Benchmark results").AppendLine();
        md.AppendLine(inv, $"- Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        md.AppendLine(inv, $"- Machine: {Environment.ProcessorCount} cores (nproc), {CpuModel()}, {MemoryGiB():F1} GiB RAM, {RuntimeInformation.OSDescription}");
        md.AppendLine(inv, $"- Load average at start: {LoadAverageAtStart}; at end: {ReadLoadAverage()} (1, 5, 15 min)");
        md.AppendLine(inv, $"- Runtime: {RuntimeInformation.FrameworkDescription}; server Release build, `ASPNETCORE_ENVIRONMENT=Production`, logging Warning, rate limits off");
        md.AppendLine(inv, $"- Settings: database {options.Provider}, {options.Connections} connections, at least {options.Warmup.TotalSeconds:0.#} s warm-up + {options.Duration.TotalSeconds:0.#} s measured per flow, BCrypt cost {options.BcryptCost}");
        md.AppendLine(inv, $"- Comparison: {(oidcProviderVersion is null ? "not run" : "oidc-provider " + oidcProviderVersion + " (npm) on Node.js, in-memory adapter, client_secret_basic, RS256 JWT access tokens and ID tokens, refresh tokens rotated on every use")}");
        md.AppendLine("- The load generator runs on the same machine and takes CPU from the servers; \"per CPU-s\" divides by the server's own CPU time (utime+stime), so it is the fairer figure.");
        if (options.ServerEnvironment.Count > 0)
        {
            md.AppendLine(inv, $"- Server environment overrides: {string.Join(", ", options.ServerEnvironment.Select(e => $"`{e.Key}={e.Value}`"))}");
        }

        if (!string.IsNullOrEmpty(options.Note))
        {
            md.AppendLine(inv, $"- Note: {options.Note}");
        }

        md.AppendLine();
        md.AppendLine("| server | flow | requests | req/s | p50 ms | p99 ms | errors | server CPU ms/req | req per server CPU-s | server cores busy | peak RSS MB |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            md.AppendLine(inv, $"| {r.Server} | {r.Flow} | {r.Operations} | {r.PerSecond:F1} | {r.P50Ms:F1} | {r.P99Ms:F1} | {r.Errors} | {r.CpuMsPerOperation:F2} | {r.PerCpuSecond:F0} | {r.CoresUsed:F2} | {r.PeakRssBytes / 1048576.0:F0} |");
        }

        md.AppendLine();
        md.AppendLine(string.Create(inv, $"Warm-up: at least {options.Warmup.TotalSeconds:0.#} s per flow; a .NET server (ours, the floor) is warmed on in 1 s steps until its runtime's tiered-compilation thread used under 2% of its CPU in a step (at most 30 s), and oidc-provider as long as ours for the same flow. ")
            + "Warm-ups: " + string.Join(", ", results.Select(r => $"{r.Server} {r.Flow} {r.WarmupSeconds:0} s")) + ". "
            + "Share of the measured CPU that went to compiling: " + string.Join(", ", results.Where(r => r.JitShare is not null).Select(r => string.Create(inv, $"{r.Server} {r.Flow} {r.JitShare:P1}"))) + ".");
        md.AppendLine();
        md.AppendLine("Flows: `discovery` alternates the discovery document and the JWKS; `client_credentials` uses a generated (256-bit) secret, `client_credentials_pbkdf2` a human-chosen one; `introspection` and `userinfo` reuse one token per worker; `refresh_token` walks one rotating chain per worker; `login` is a whole authorization-code login from a fresh browser (GET authorize, login page, form post with anti-forgery token and cookies, back to authorize, code, token) and does one BCrypt verify.");
        if (oidcProviderVersion is not null)
        {
            md.AppendLine();
            md.AppendLine("oidc-provider runs the same load for `discovery`, `client_credentials`, `introspection`, `userinfo` and `refresh_token`, not `login`: it has no password store (a login there would measure whatever account code we wrote for it), and ours is bound by BCrypt and measured against the BCrypt ceiling instead. Its user tokens are minted per worker by its start script (a grant, and a refresh token as its authorization_code grant issues one) instead of by a login. Its introspection refuses JWTs (`unsupported_token_type`), so it introspects an opaque client_credentials token for the API (ours: our JWT client_credentials token); its userinfo takes only opaque access tokens without audience, so it gets one for `openid profile email` (ours: the JWT access token of the login); its refresh answers, like ours, with a new refresh token, an RS256 ID token and an RS256 JWT access token for the API.");
        }

        if (Find(results, FloorServer.Name, "client_credentials") is not null)
        {
            md.AppendLine();
            md.AppendLine("`floor` is a bare ASP.NET Core endpoint started by the benchmark (`FloorServer.cs`): Kestrel, the form, HTTP Basic compared as a SHA-256, one RS256 `at+jwt` with our claims from the JsonWebTokenHandler OpenIddict uses, and a JSON answer; no OAuth server, no database, no logging. A practical lower bound for answering client_credentials with an RS256 JWT on ASP.NET Core: most of its CPU is the signature.");
        }

        if (duringLogins is { } probe)
        {
            md.AppendLine();
            md.AppendLine(inv, $"While the logins ran (warm-up included), one more client fetched `{probe.Path}` every 50 ms on a connection of its own: {probe.Requests} answers, p50 {probe.P50Ms:F1} ms, p99 {probe.P99Ms:F1} ms, max {probe.MaxMs:F1} ms, {probe.Errors} errors. A burst of BCrypt logins must not stall the rest of the server.");
        }

        var errorRows = results.Where(r => r.FirstError is not null).ToList();
        foreach (var r in errorRows)
        {
            md.AppendLine(inv, $"- first error in {r.Server} {r.Flow}: `{r.FirstError}`");
        }

        var comparable = results.Where(r => r.Server == Ours && results.Any(t => t.Server == Theirs && t.Flow == r.Flow)).ToList();
        if (comparable.Count > 0)
        {
            md.AppendLine().AppendLine("### Against oidc-provider").AppendLine();
            md.AppendLine("| flow | ours req/s | theirs req/s | ours per CPU-s | theirs per CPU-s | ratio per core used (ours/theirs) |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
            foreach (var r in comparable)
            {
                var t = results.First(x => x.Server == Theirs && x.Flow == r.Flow);
                md.AppendLine(inv, $"| {r.Flow} | {r.PerSecond:F0} | {t.PerSecond:F0} | {r.PerCpuSecond:F0} | {t.PerCpuSecond:F0} | {Ratio(r.PerCpuSecond, t.PerCpuSecond):F2}x |");
            }
        }

        md.AppendLine().AppendLine("### Targets").AppendLine();
        md.AppendLine("| target | measured | met |");
        md.AppendLine("| --- | --- | --- |");
        var cc = Find(results, Ours, "client_credentials");
        var theirCc = Find(results, Theirs, "client_credentials");
        var floorCc = Find(results, FloorServer.Name, "client_credentials");
        var floorNote = floorCc is null || theirCc is null ? ""
            : $"; the floor (an ASP.NET Core endpoint doing only HTTP Basic and one RS256 signature) does {floorCc.PerCpuSecond:F0} per CPU-s = {Ratio(floorCc.PerCpuSecond, theirCc.PerCpuSecond):F2}x";
        Target(md, "client_credentials >= 1.5x oidc-provider per core used",
            cc is null || theirCc is null ? null : $"{Ratio(cc.PerCpuSecond, theirCc.PerCpuSecond):F2}x ({cc.PerCpuSecond:F0} vs {theirCc.PerCpuSecond:F0} per CPU-s){floorNote}",
            cc is not null && theirCc is not null ? Ratio(cc.PerCpuSecond, theirCc.PerCpuSecond) >= 1.5 : null);
        Target(md, "client_credentials >= 10x Keycloak's 120/s per vCPU (1,200 per CPU-s)",
            cc is null ? null : $"{cc.PerCpuSecond:F0} per CPU-s", cc?.PerCpuSecond >= 1200);
        var refresh = Find(results, Ours, "refresh_token");
        Target(md, $"refresh_token >= 1,000/s per core ({options.Provider})",
            refresh is null ? null : $"{refresh.PerCpuSecond:F0} per CPU-s", refresh?.PerCpuSecond >= 1000);
        var login = Find(results, Ours, "login");
        var ceiling = Environment.ProcessorCount * 1000 / bcryptVerifyMs;
        Target(md, $"login >= 90% of the BCrypt ceiling ({Environment.ProcessorCount} cores x 1/{bcryptVerifyMs:F0} ms = {ceiling:F1}/s at cost {options.BcryptCost}; one verify timed just before and after the logins)",
            login is null ? null : $"{login.PerSecond:F2}/s = {100 * login.PerSecond / ceiling:F1}% (BCrypt is {100 * bcryptVerifyMs / login.CpuMsPerOperation:F0}% of the server CPU per login; the server had {login.CoresUsed:F2} cores busy)",
            login is null ? null : login.PerSecond >= 0.9 * ceiling);
        var fast = results.Where(r => r.Server == Ours && r.Flow != "login").ToList();
        var worst = fast.OrderByDescending(r => r.P99Ms).FirstOrDefault();
        Target(md, $"p99 < 25 ms for non-BCrypt flows at 16 connections{(options.Connections == 16 ? "" : $" (this run: {options.Connections})")}",
            worst is null ? null : $"worst {worst.P99Ms:F1} ms ({worst.Flow})", worst is null ? null : fast.All(r => r.P99Ms < 25));
        Target(md, "peak RSS < 250 MB (VmHWM of the server process)", $"{ourPeakRss / 1048576.0:F0} MB", ourPeakRss > 0 ? ourPeakRss < 250L * 1024 * 1024 : null);
        var errors = results.Where(r => r.Server == Ours).Sum(r => r.Errors);
        Target(md, "no errors", $"{errors}", errors == 0);
        return md.ToString();
    }

    private static void Target(StringBuilder md, string target, string? measured, bool? met) =>
        md.AppendLine(CultureInfo.InvariantCulture, $"| {target} | {measured ?? "not run"} | {(met is null ? "n/a" : met.Value ? "met" : "**not met**")} |");

    private static FlowResult? Find(IEnumerable<FlowResult> results, string server, string flow) =>
        results.FirstOrDefault(r => r.Server == server && r.Flow == flow);

    private static double Ratio(double a, double b) => b > 0 ? a / b : double.NaN;

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    private static double MemoryGiB()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            return long.Parse(line["MemTotal:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1048576.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static string ReadLoadAverage()
    {
        try
        {
            return string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
