using IdentityServer.Persistence;
using IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace IdentityServer.Tests.Keys;

public sealed class KeyCreationRaceTests
{
    [Fact]
    public async Task Two_instances_starting_together_on_an_empty_database_create_one_key_and_publish_the_same_jwks()
    {
        var databaseName = IdentityServerFactory.NewDatabaseName();
        await using var first = new SharedDatabaseFactory(databaseName, keepDatabase: false);
        await using var second = new SharedDatabaseFactory(databaseName, keepDatabase: true);

        // Both hosts start (migrate, then create keys) at the same time.
        await Task.WhenAll(Task.Run(() => first.CreateClient()), Task.Run(() => second.CreateClient()));

        await using var scope = first.Services.CreateAsyncScope();
        var keys = await scope.ServiceProvider.GetRequiredService<ApplicationDbContext>().SigningKeys.AsNoTracking().ToListAsync();
        Assert.Single(keys, k => k.Use == "sig");
        Assert.Single(keys, k => k.Use == "enc");

        var jwksA = await first.CreateClient().GetStringAsync("/.well-known/jwks");
        var jwksB = await second.CreateClient().GetStringAsync("/.well-known/jwks");
        Assert.Equal(jwksA, jwksB);
    }

    private sealed class SharedDatabaseFactory(string databaseName, bool keepDatabase) : IdentityServerFactory(databaseName)
    {
        protected override bool KeepDatabase => keepDatabase;
    }
}
