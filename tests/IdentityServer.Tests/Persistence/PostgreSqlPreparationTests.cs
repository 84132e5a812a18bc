using IdentityServer.Persistence;
using Npgsql;

namespace IdentityServer.Tests.Persistence;

/// <summary>On PostgreSQL the server prepares its repeated statements unless the connection string says otherwise.</summary>
public sealed class PostgreSqlPreparationTests
{
    [Fact]
    public void A_connection_string_that_does_not_mention_preparation_gets_automatic_preparation()
    {
        var prepared = new NpgsqlConnectionStringBuilder(
            PersistenceExtensions.PreparePostgreSql("Host=db.internal;Database=identity;Username=app;Password=secret"));

        Assert.True(prepared.MaxAutoPrepare > 0);
        Assert.Equal(2, prepared.AutoPrepareMinUsages);
        Assert.Equal("db.internal", prepared.Host);
        Assert.Equal("identity", prepared.Database);
        Assert.Equal("secret", prepared.Password);
    }

    [Theory]
    [InlineData("Host=db;Max Auto Prepare=0", 0)]
    [InlineData("Host=db;MaxAutoPrepare=10", 10)]
    [InlineData("Host=db;max auto prepare=7", 7)]
    public void An_operator_who_sets_max_auto_prepare_keeps_that_value(string connectionString, int expected)
    {
        var kept = PersistenceExtensions.PreparePostgreSql(connectionString);

        Assert.Equal(connectionString, kept);
        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(kept).MaxAutoPrepare);
    }

    [Fact]
    public void An_operator_who_sets_only_the_usage_threshold_keeps_it()
    {
        var prepared = new NpgsqlConnectionStringBuilder(
            PersistenceExtensions.PreparePostgreSql("Host=db;Auto Prepare Min Usages=9"));

        Assert.True(prepared.MaxAutoPrepare > 0);
        Assert.Equal(9, prepared.AutoPrepareMinUsages);
    }
}
