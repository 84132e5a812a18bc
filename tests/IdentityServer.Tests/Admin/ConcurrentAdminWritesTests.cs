using System.Net;
using IdentityServer.Tests.Infrastructure;
using IdentityServer.Users;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore;
using OpenIddict.EntityFrameworkCore.Models;

namespace IdentityServer.Tests.Admin;

/// <summary>
/// Two admin writes at once, forced by holding each write until the other has arrived. Two identical creates both pass
/// the "already exists" check before either writes: the loser gets the 409 the check would have given. Two changes of
/// one client, scope or user both read it before either writes: the one that finds it changed is done again on a
/// fresh read, so both succeed and both changes stay (each PUT changes only the fields it names). A client saved with a
/// scope is held between its check that the scope exists and its save while the scope is deleted.
/// </summary>
public sealed class ConcurrentAdminWritesTests(ConcurrentAdminWritesTests.RaceFactory factory) : IClassFixture<ConcurrentAdminWritesTests.RaceFactory>
{
    private readonly TokenClient tokens = new(factory);

    [Fact]
    public async Task Of_two_identical_client_registrations_at_once_one_is_created_and_the_other_is_a_409()
    {
        var admin = await tokens.AdminTokenAsync();
        var client = new { clientId = "twin-client", clientType = "confidential", grantTypes = new[] { "client_credentials" } };
        factory.BeforeClientWrite.Arm(2);

        var results = await Task.WhenAll(
            tokens.AdminAsync(HttpMethod.Post, "/admin/clients", client, admin),
            tokens.AdminAsync(HttpMethod.Post, "/admin/clients", client, admin));

        AssertOneCreatedOneConflict(results, factory.BeforeClientWrite);
    }

    [Fact]
    public async Task Of_two_identical_scope_creations_at_once_one_is_created_and_the_other_is_a_409()
    {
        var admin = await tokens.AdminTokenAsync();
        var scope = new { name = "twin-scope", resources = new[] { "twin-api" } };
        factory.BeforeScopeWrite.Arm(2);

        var results = await Task.WhenAll(
            tokens.AdminAsync(HttpMethod.Post, "/admin/scopes", scope, admin),
            tokens.AdminAsync(HttpMethod.Post, "/admin/scopes", scope, admin));

        AssertOneCreatedOneConflict(results, factory.BeforeScopeWrite);
    }

    [Fact]
    public async Task Two_users_created_at_once_with_one_new_role_are_both_created_with_it()
    {
        var admin = await tokens.AdminTokenAsync();
        factory.BeforeRoleCreate.Arm(2);

        var results = await Task.WhenAll(
            tokens.AdminAsync(HttpMethod.Post, "/admin/users", new { username = "racer-one", password = "racer-password-1", roles = new[] { "racers" } }, admin),
            tokens.AdminAsync(HttpMethod.Post, "/admin/users", new { username = "racer-two", password = "racer-password-2", roles = new[] { "racers" } }, admin));

        Assert.Equal(2, factory.BeforeRoleCreate.Arrived);
        Assert.All(results, result =>
        {
            Assert.Equal(HttpStatusCode.Created, result.Status);
            Assert.Equal("racers", Assert.Single(result.Body.GetProperty("roles").EnumerateArray()).GetString());
        });
    }

    [Fact]
    public async Task Of_two_deletes_of_one_client_at_once_one_deletes_it_and_the_other_finds_it_gone()
    {
        var admin = await tokens.AdminTokenAsync();
        var (created, _) = await tokens.AdminAsync(HttpMethod.Post, "/admin/clients",
            new { clientId = "doomed-client", clientType = "confidential", grantTypes = new[] { "client_credentials" } }, admin);
        Assert.Equal(HttpStatusCode.Created, created);
        factory.BeforeClientDelete.Arm(2);

        var results = await Task.WhenAll(
            tokens.AdminAsync(HttpMethod.Delete, "/admin/clients/doomed-client", null, admin),
            tokens.AdminAsync(HttpMethod.Delete, "/admin/clients/doomed-client", null, admin));

        Assert.Equal(2, factory.BeforeClientDelete.Arrived);
        var statuses = results.Select(result => result.Status).Order().ToList();
        Assert.True(statuses.SequenceEqual([HttpStatusCode.NoContent, HttpStatusCode.NotFound]) || statuses.All(s => s == HttpStatusCode.NoContent),
            string.Join(" | ", results.Select(r => $"{(int)r.Status} {r.Body}")));
        Assert.Equal(HttpStatusCode.NotFound, (await tokens.AdminAsync(HttpMethod.Get, "/admin/clients/doomed-client", null, admin)).Status);
    }

    [Fact]
    public async Task A_twin_caught_by_openiddicts_own_uniqueness_check_is_a_409_too()
    {
        // The twin's create can also lose earlier: OpenIddict's manager looks the id up again before writing, and
        // throws its own exception when the other create committed between that lookup and ours.
        var result = await IdentityServer.Admin.AdminProblems.ConflictIfCreatedMeanwhileAsync(
            () => throw new OpenIddictExceptions.ValidationException("An application with the same client identifier already exists."),
            () => Task.FromResult(true),
            "A client with the id 'twin' already exists.",
            CancellationToken.None);

        var problem = Assert.IsAssignableFrom<Microsoft.AspNetCore.Http.IStatusCodeHttpResult>(result);
        Assert.Equal(409, problem.StatusCode);
    }

    [Fact]
    public async Task Two_changes_of_one_client_at_once_both_succeed_and_both_stay()
    {
        var admin = await tokens.AdminTokenAsync();
        await tokens.RegisterClientAsync(new
        {
            clientId = "edited-twice", clientType = "confidential", grantTypes = new[] { "authorization_code" },
            redirectUris = new[] { "https://app.example.com/callback" }, scopes = new[] { "openid" },
        });
        factory.BeforeClientUpdate.Arm(2);

        var results = await Task.WhenAll(
            tokens.AdminAsync(HttpMethod.Put, "/admin/clients/edited-twice", new { displayName = "Renamed app" }, admin),
            tokens.AdminAsync(HttpMethod.Put, "/admin/clients/edited-twice", new { allowedCorsOrigins = new[] { "https://app.example.com" } }, admin));

        Assert.Equal(2, factory.BeforeClientUpdate.Arrived);
        Assert.All(results, result => Assert.True(result.Status == HttpStatusCode.OK, $"{(int)result.Status} {result.Body}"));
        var (_, stored) = await tokens.AdminAsync(HttpMethod.Get, "/admin/clients/edited-twice", token: admin);
        Assert.Equal("Renamed app", stored.GetProperty("displayName").GetString());
        Assert.Equal(["https://app.example.com"], stored.GetProperty("allowedCorsOrigins").EnumerateArray().Select(o => o.GetString()));
        // One audit event per call, the retried one included.
        var (_, audit) = await tokens.AdminAsync(HttpMethod.Get, "/admin/audit?action=client.updated&target=edited-twice", token: admin);
        Assert.Equal(2, audit.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task A_secret_rotation_and_a_change_of_the_same_client_at_once_both_succeed_and_the_new_secret_works()
    {
        var admin = await tokens.AdminTokenAsync();
        await tokens.RegisterClientAsync(new { clientId = "rotated-while-edited", clientType = "confidential", grantTypes = new[] { "client_credentials" } });
        factory.BeforeClientUpdate.Arm(2);

        var results = await Task.WhenAll(
            tokens.AdminAsync(HttpMethod.Post, "/admin/clients/rotated-while-edited/secret", token: admin),
            tokens.AdminAsync(HttpMethod.Put, "/admin/clients/rotated-while-edited", new { displayName = "Rotated app" }, admin));

        Assert.Equal(2, factory.BeforeClientUpdate.Arrived);
        Assert.All(results, result => Assert.True(result.Status == HttpStatusCode.OK, $"{(int)result.Status} {result.Body}"));
        var (status, body) = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials" },
            "rotated-while-edited", results[0].Body.GetProperty("clientSecret").GetString()!);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
    }

    [Fact]
    public async Task Two_changes_of_one_scope_at_once_both_succeed_and_both_stay()
    {
        var admin = await tokens.AdminTokenAsync();
        Assert.Equal(HttpStatusCode.Created, (await tokens.AdminAsync(HttpMethod.Post, "/admin/scopes", new { name = "edited-scope", resources = new[] { "api-one" } }, admin)).Status);
        factory.BeforeScopeUpdate.Arm(2);

        var results = await Task.WhenAll(
            tokens.AdminAsync(HttpMethod.Put, "/admin/scopes/edited-scope", new { displayName = "Edited scope" }, admin),
            tokens.AdminAsync(HttpMethod.Put, "/admin/scopes/edited-scope", new { resources = new[] { "api-two" } }, admin));

        Assert.Equal(2, factory.BeforeScopeUpdate.Arrived);
        Assert.All(results, result => Assert.True(result.Status == HttpStatusCode.OK, $"{(int)result.Status} {result.Body}"));
        var (_, stored) = await tokens.AdminAsync(HttpMethod.Get, "/admin/scopes/edited-scope", token: admin);
        Assert.Equal("Edited scope", stored.GetProperty("displayName").GetString());
        Assert.Equal(["api-two"], stored.GetProperty("resources").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task A_password_reset_and_a_change_of_the_same_user_at_once_both_succeed_and_the_new_password_works()
    {
        var admin = await tokens.AdminTokenAsync();
        var userId = await tokens.RegisterUserAsync("edited-user", "first-password-1");
        factory.BeforeUserUpdate.Arm(2);

        var results = await Task.WhenAll(
            tokens.AdminAsync(HttpMethod.Post, $"/admin/users/{userId}/password", new { password = "second-password-2" }, admin),
            tokens.AdminAsync(HttpMethod.Put, $"/admin/users/{userId}", new { roles = new[] { "reader" } }, admin));

        Assert.Equal(2, factory.BeforeUserUpdate.Arrived);
        Assert.True(results[0].Status == HttpStatusCode.NoContent, $"{(int)results[0].Status} {results[0].Body}");
        Assert.True(results[1].Status == HttpStatusCode.OK, $"{(int)results[1].Status} {results[1].Body}");
        var (_, stored) = await tokens.AdminAsync(HttpMethod.Get, $"/admin/users/{userId}", token: admin);
        Assert.Equal(["reader"], stored.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        await using var scope = factory.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        Assert.True(await users.CheckPasswordAsync((await users.FindByIdAsync(userId))!, "second-password-2"));
    }

    [Fact]
    public async Task A_client_updated_to_use_a_scope_while_it_is_deleted_does_not_keep_it_nor_regain_it_when_the_scope_is_created_again()
    {
        var admin = await tokens.AdminTokenAsync();
        await tokens.RegisterScopeAsync("fleeting-scope", "fleeting-api");
        var secret = await tokens.RegisterClientAsync(new { clientId = "scope-racer", clientType = "confidential", grantTypes = new[] { "client_credentials" } });

        // The PUT has checked that the scope exists and is held before it saves; the delete runs meanwhile, when the
        // client does not have the scope yet, so there is nothing for it to take.
        var (updated, body) = await factory.ClientSaveHold.AroundAsync(
            () => tokens.AdminAsync(HttpMethod.Put, "/admin/clients/scope-racer", new { scopes = new[] { "fleeting-scope" } }, admin),
            async () => Assert.Equal(HttpStatusCode.NoContent, (await tokens.AdminAsync(HttpMethod.Delete, "/admin/scopes/fleeting-scope", token: admin)).Status));

        Assert.True(updated == HttpStatusCode.OK, $"{(int)updated} {body}");
        Assert.Empty(body.GetProperty("scopes").EnumerateArray());
        await tokens.RegisterScopeAsync("fleeting-scope", "fleeting-api");
        var (_, stored) = await tokens.AdminAsync(HttpMethod.Get, "/admin/clients/scope-racer", token: admin);
        Assert.Empty(stored.GetProperty("scopes").EnumerateArray());
        var (status, token) = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "fleeting-scope" }, "scope-racer", secret!);
        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {token}");
    }

    [Fact]
    public async Task A_client_registered_with_a_scope_while_it_is_deleted_does_not_keep_it_nor_regain_it_when_the_scope_is_created_again()
    {
        var admin = await tokens.AdminTokenAsync();
        await tokens.RegisterScopeAsync("short-lived-scope", "short-lived-api");

        var (created, body) = await factory.ClientSaveHold.AroundAsync(
            () => tokens.AdminAsync(HttpMethod.Post, "/admin/clients",
                new { clientId = "born-racing", clientType = "confidential", grantTypes = new[] { "client_credentials" }, scopes = new[] { "short-lived-scope" } }, admin),
            async () => Assert.Equal(HttpStatusCode.NoContent, (await tokens.AdminAsync(HttpMethod.Delete, "/admin/scopes/short-lived-scope", token: admin)).Status));

        Assert.True(created == HttpStatusCode.Created, $"{(int)created} {body}");
        Assert.Empty(body.GetProperty("scopes").EnumerateArray());
        await tokens.RegisterScopeAsync("short-lived-scope", "short-lived-api");
        var (_, stored) = await tokens.AdminAsync(HttpMethod.Get, "/admin/clients/born-racing", token: admin);
        Assert.Empty(stored.GetProperty("scopes").EnumerateArray());
        var (status, token) = await tokens.TokenAsync(
            new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "short-lived-scope" },
            "born-racing", body.GetProperty("clientSecret").GetString()!);
        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {token}");
    }

    private static void AssertOneCreatedOneConflict((HttpStatusCode Status, System.Text.Json.JsonElement Body)[] results, Rendezvous rendezvous)
    {
        var summary = string.Join(" | ", results.Select(r => $"{(int)r.Status} {r.Body}"));
        Assert.Equal(2, rendezvous.Arrived);
        Assert.True(results.Count(r => r.Status == HttpStatusCode.Created) == 1, summary);
        Assert.True(results.Count(r => r.Status == HttpStatusCode.Conflict) == 1, summary);
    }

    public sealed class RaceFactory : IdentityServerFactory
    {
        public Rendezvous BeforeClientWrite { get; } = new();

        public Rendezvous BeforeScopeWrite { get; } = new();

        public Rendezvous BeforeClientUpdate { get; } = new();

        public Rendezvous BeforeScopeUpdate { get; } = new();

        public Rendezvous BeforeUserUpdate { get; } = new();

        public Rendezvous BeforeRoleCreate { get; } = new();

        public Rendezvous BeforeClientDelete { get; } = new();

        /// <summary>A client's create or update, after its checks and before its save.</summary>
        public ServerHold ClientSaveHold { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services =>
            {
                services.AddScoped<IOpenIddictApplicationStore<OpenIddictEntityFrameworkCoreApplication>>(provider => new HeldApplicationStore(
                    provider.GetRequiredService<IMemoryCache>(), provider.GetRequiredService<IOpenIddictEntityFrameworkCoreContext>(),
                    provider.GetRequiredService<IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions>>(), BeforeClientWrite, BeforeClientUpdate, BeforeClientDelete, ClientSaveHold));
                services.AddScoped<IOpenIddictScopeStore<OpenIddictEntityFrameworkCoreScope>>(provider => new HeldScopeStore(
                    provider.GetRequiredService<IMemoryCache>(), provider.GetRequiredService<IOpenIddictEntityFrameworkCoreContext>(),
                    provider.GetRequiredService<IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions>>(), BeforeScopeWrite, BeforeScopeUpdate));
                services.AddScoped<IUserValidator<ApplicationUser>>(_ => new HeldUserValidator(BeforeUserUpdate));
                services.AddScoped<IRoleValidator<IdentityRole>>(_ => new HeldRoleValidator(BeforeRoleCreate));
            });
        }
    }

    private sealed class HeldApplicationStore(
        IMemoryCache cache, IOpenIddictEntityFrameworkCoreContext context, IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions> options,
        Rendezvous beforeCreate, Rendezvous beforeUpdate, Rendezvous beforeDelete, ServerHold beforeSave)
        : OpenIddictEntityFrameworkCoreApplicationStore(cache, context, options)
    {
        public override async ValueTask DeleteAsync(OpenIddictEntityFrameworkCoreApplication application, CancellationToken cancellationToken)
        {
            await beforeDelete.ArriveAsync();
            await base.DeleteAsync(application, cancellationToken);
        }

        public override async ValueTask CreateAsync(OpenIddictEntityFrameworkCoreApplication application, CancellationToken cancellationToken)
        {
            await beforeCreate.ArriveAsync();
            await beforeSave.ArriveAsync();
            await base.CreateAsync(application, cancellationToken);
        }

        public override async ValueTask UpdateAsync(OpenIddictEntityFrameworkCoreApplication application, CancellationToken cancellationToken)
        {
            await beforeUpdate.ArriveAsync();
            await beforeSave.ArriveAsync();
            await base.UpdateAsync(application, cancellationToken);
        }
    }

    private sealed class HeldScopeStore(
        IMemoryCache cache, IOpenIddictEntityFrameworkCoreContext context, IOptionsMonitor<OpenIddictEntityFrameworkCoreOptions> options, Rendezvous beforeCreate, Rendezvous beforeUpdate)
        : OpenIddictEntityFrameworkCoreScopeStore(cache, context, options)
    {
        public override async ValueTask CreateAsync(OpenIddictEntityFrameworkCoreScope scope, CancellationToken cancellationToken)
        {
            await beforeCreate.ArriveAsync();
            await base.CreateAsync(scope, cancellationToken);
        }

        public override async ValueTask UpdateAsync(OpenIddictEntityFrameworkCoreScope scope, CancellationToken cancellationToken)
        {
            await beforeUpdate.ArriveAsync();
            await base.UpdateAsync(scope, cancellationToken);
        }
    }

    /// <summary>Runs after Identity's own check that the name is free, so both requests pass it before either inserts.</summary>
    private sealed class HeldRoleValidator(Rendezvous beforeCreate) : IRoleValidator<IdentityRole>
    {
        public async Task<IdentityResult> ValidateAsync(RoleManager<IdentityRole> manager, IdentityRole role)
        {
            await beforeCreate.ArriveAsync();
            return IdentityResult.Success;
        }
    }

    /// <summary>
    /// Identity validates a user just before every write of it (a PUT, a password reset), so a validator holds there.
    /// </summary>
    private sealed class HeldUserValidator(Rendezvous beforeUpdate) : IUserValidator<ApplicationUser>
    {
        public async Task<IdentityResult> ValidateAsync(UserManager<ApplicationUser> manager, ApplicationUser user)
        {
            await beforeUpdate.ArriveAsync();
            return IdentityResult.Success;
        }
    }
}
