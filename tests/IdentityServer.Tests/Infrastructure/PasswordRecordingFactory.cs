using System.Collections.Concurrent;
using IdentityServer.Users;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Infrastructure;

/// <summary>A server whose password hasher notes every hash and verify it does.</summary>
public sealed class PasswordRecordingFactory : IdentityServerFactory
{
    public RecordingPasswordHasher Hasher { get; private set; } = null!;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<IPasswordHasher<ApplicationUser>>(provider =>
            Hasher = new RecordingPasswordHasher(provider.GetRequiredService<BcryptPasswordHasher>())));
    }
}

/// <summary>The server's hasher, noting each call and whether it ran on a thread-pool thread.</summary>
public sealed class RecordingPasswordHasher(BcryptPasswordHasher inner) : IPasswordHasher<ApplicationUser>
{
    private readonly ConcurrentQueue<(string Operation, bool OnThreadPool)> calls = new();

    /// <summary>The calls made while <paramref name="act"/> ran (one act at a time per server).</summary>
    public async Task<List<(string Operation, bool OnThreadPool)>> RecordAsync(Func<Task> act)
    {
        calls.Clear();
        await act();
        return [.. calls];
    }

    public async Task<int> CountVerificationsAsync(Func<Task> act) =>
        (await RecordAsync(act)).Count(call => call.Operation == "verify");

    public string HashPassword(ApplicationUser user, string password)
    {
        calls.Enqueue(("hash", Thread.CurrentThread.IsThreadPoolThread));
        return inner.HashPassword(user, password);
    }

    public PasswordVerificationResult VerifyHashedPassword(ApplicationUser user, string hashedPassword, string providedPassword)
    {
        calls.Enqueue(("verify", Thread.CurrentThread.IsThreadPoolThread));
        return inner.VerifyHashedPassword(user, hashedPassword, providedPassword);
    }
}
