using System.Net;
using IdentityServer.Tests.Infrastructure;

namespace IdentityServer.Tests.Persistence;

/// <summary>Behaviour that SQLite and PostgreSQL could easily disagree on: text comparison and stored times.</summary>
public sealed class ProviderSemanticsTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task User_search_ignores_case_and_matches_part_of_the_username_or_email()
    {
        var id = await tokens.RegisterUserAsync("Mixed.Case-User", "mixed-password-1", "Someone@Example.TEST");
        await tokens.RegisterUserAsync("unrelated", "unrelated-password-1", "other@example.test");

        foreach (var search in new[] { "mixed.case", "CASE-USER", "someone@example", "EXAMPLE.test" })
        {
            var (status, page) = await tokens.AdminAsync(HttpMethod.Get, $"/admin/users?search={Uri.EscapeDataString(search)}");
            Assert.Equal(HttpStatusCode.OK, status);
            var ids = page.GetProperty("items").EnumerateArray().Select(u => u.GetProperty("id").GetString()).ToList();
            Assert.True(ids.Contains(id), $"search '{search}' did not find the user: {page}");
        }

        var (_, none) = await tokens.AdminAsync(HttpMethod.Get, "/admin/users?search=MIXED.CASE-USERX");
        Assert.Equal(0, none.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task Stored_times_come_back_as_the_same_instant_in_utc()
    {
        var before = factory.Time.GetUtcNow();
        var id = await tokens.RegisterUserAsync("timekeeper", "timekeeper-password-1");

        var (status, user) = await tokens.AdminAsync(HttpMethod.Get, $"/admin/users/{id}");

        Assert.Equal(HttpStatusCode.OK, status);
        var createdAt = user.GetProperty("createdAt").GetDateTimeOffset();
        Assert.Equal(TimeSpan.Zero, createdAt.Offset);
        // PostgreSQL keeps microseconds, .NET ticks are a tenth of that: equal to within one microsecond.
        Assert.True((createdAt - before).Duration() < TimeSpan.FromMilliseconds(1), $"stored {createdAt:O}, clock said {before:O}");
    }
}
