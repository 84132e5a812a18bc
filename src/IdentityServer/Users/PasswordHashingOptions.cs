using System.ComponentModel.DataAnnotations;

namespace IdentityServer.Users;

public sealed class PasswordHashingOptions
{
    public const string SectionName = "Passwords";

    /// <summary>BCrypt cost for new hashes. Each step doubles the time a guess costs an attacker (and us).</summary>
    [Range(4, 31)]
    public int BcryptWorkFactor { get; set; } = 12;

    /// <summary>Threads that run BCrypt (<see cref="PasswordHashingThreads"/>); unset: one per core.</summary>
    [Range(1, 256)]
    public int? HashingThreads { get; set; }
}
