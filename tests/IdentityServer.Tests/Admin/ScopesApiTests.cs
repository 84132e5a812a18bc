using System.Net;
using System.Text.Json;
using IdentityServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.Abstractions;
using static IdentityServer.Tests.Admin.AdminApi;

namespace IdentityServer.Tests.Admin;

public sealed class ScopesApiTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    private readonly AdminApi admin = new(factory);

    private TokenClient Tokens => admin.Tokens;

    private static string[] Resources(JsonElement body) => [.. body.GetProperty("resources").EnumerateArray().Select(e => e.GetString()!)];

    private async Task<string> WorkerTokenAsync(string scope)
    {
        var clientId = Unique("worker");
        var secret = await Tokens.RegisterClientAsync(new { clientId, grantTypes = new[] { "client_credentials" }, scopes = new[] { scope } });
        return await Tokens.ClientCredentialsTokenAsync(clientId, secret!, scope);
    }

    [Fact]
    public async Task Creating_a_scope_returns_201_with_its_location_and_it_can_be_read_back()
    {
        var name = Unique("orders.read");

        var created = await admin.PostAsync("/admin/scopes", new { name, displayName = "Read orders", resources = new[] { "orders-api", "audit-api" } });
        var fetched = await admin.GetAsync($"/admin/scopes/{name}");

        AssertStatus(created, HttpStatusCode.Created);
        Assert.Equal($"/admin/scopes/{name}", created.Headers.Location?.OriginalString);
        Assert.Equal(name, created.Json.GetProperty("name").GetString());
        AssertStatus(fetched, HttpStatusCode.OK);
        Assert.Equal("Read orders", fetched.Json.GetProperty("displayName").GetString());
        Assert.Equal(["audit-api", "orders-api"], Resources(fetched.Json));
    }

    [Theory]
    [InlineData("identityserver")]
    [InlineData("identityserver-admin")]
    [InlineData("identityserver/")]
    public async Task A_resource_named_as_this_servers_own_audience_is_a_400(string resource)
    {
        // Tokens with no API scope carry aud identityserver, admin tokens identityserver-admin: an API given either
        // name would take tokens never meant for it.
        var response = await admin.PostAsync("/admin/scopes", new { name = Unique("collide"), resources = new[] { resource } });

        AssertFieldError(response, "resources");
    }

    [Fact]
    public async Task A_scope_name_ending_in_a_newline_is_a_400()
    {
        var response = await admin.PostAsync("/admin/scopes", new { name = Unique("newline") + "\n", resources = new[] { "newline-api" } });

        AssertFieldError(response, "name");
    }

    [Fact]
    public async Task Listing_scopes_shows_created_ones_and_the_bootstrapped_admin_scope()
    {
        var name = Unique("list");
        await Tokens.RegisterScopeAsync(name, "list-api");

        var listed = await admin.GetAsync("/admin/scopes");

        AssertStatus(listed, HttpStatusCode.OK);
        var names = listed.Json.EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToList();
        Assert.Contains(name, names);
        Assert.Contains("admin", names);
    }

    [Fact]
    public async Task A_scopes_resources_become_the_audiences_of_its_tokens()
    {
        var name = Unique("aud");
        await Tokens.RegisterScopeAsync(name, $"{name}-api-1", $"{name}-api-2");

        var jwt = await Tokens.ValidateAccessTokenAsync(await WorkerTokenAsync(name), audience: $"{name}-api-1");

        Assert.Equal([$"{name}-api-1", $"{name}-api-2"], jwt.Audiences.Order());
    }

    [Fact]
    public async Task Updating_a_scope_changes_the_audiences_of_tokens_issued_afterwards()
    {
        var name = Unique("moving");
        await Tokens.RegisterScopeAsync(name, "old-api");

        var updated = await admin.PutAsync($"/admin/scopes/{name}", new { name, displayName = "Moved", description = "Now elsewhere", resources = new[] { "new-api" } });

        AssertStatus(updated, HttpStatusCode.OK);
        Assert.Equal("Moved", updated.Json.GetProperty("displayName").GetString());
        Assert.Equal("Now elsewhere", updated.Json.GetProperty("description").GetString());
        var fetched = await admin.GetAsync($"/admin/scopes/{name}");
        Assert.Equal(["new-api"], Resources(fetched.Json));
        var jwt = await Tokens.ValidateAccessTokenAsync(await WorkerTokenAsync(name), audience: "new-api");
        Assert.DoesNotContain("old-api", jwt.Audiences);
    }

    [Fact]
    public async Task A_change_to_a_scopes_resources_reaches_the_next_token_although_the_resources_are_cached()
    {
        var name = Unique("cached");
        await Tokens.RegisterScopeAsync(name, "first-api");
        // The first token puts the scope's resources in the in-memory cache...
        Assert.Contains("first-api", (await Tokens.ValidateAccessTokenAsync(await WorkerTokenAsync(name), audience: "first-api")).Audiences);

        AssertStatus(await admin.PutAsync($"/admin/scopes/{name}", new { name, resources = new[] { "second-api" } }), HttpStatusCode.OK);

        // ...and the update empties it at once, without waiting for the entries to expire.
        var jwt = await Tokens.ValidateAccessTokenAsync(await WorkerTokenAsync(name), audience: "second-api");
        Assert.DoesNotContain("first-api", jwt.Audiences);
    }

    [Fact]
    public async Task Updating_a_scope_without_a_name_in_the_body_keeps_its_name()
    {
        var name = Unique("keep");
        await Tokens.RegisterScopeAsync(name, "keep-api");

        var updated = await admin.PutAsync($"/admin/scopes/{name}", new { displayName = "Kept", resources = new[] { "keep-api" } });

        AssertStatus(updated, HttpStatusCode.OK);
        Assert.Equal(name, updated.Json.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Updating_a_scope_keeps_the_fields_the_body_leaves_out()
    {
        var name = Unique("partial");
        AssertStatus(await admin.PostAsync("/admin/scopes", new { name, displayName = "Partial API", description = "Reads", resources = new[] { "partial-api" } }), HttpStatusCode.Created);

        var updated = await admin.PutAsync($"/admin/scopes/{name}", new { description = "Reads and writes" });

        AssertStatus(updated, HttpStatusCode.OK);
        Assert.Equal("Partial API", updated.Json.GetProperty("displayName").GetString());
        Assert.Equal("Reads and writes", updated.Json.GetProperty("description").GetString());
        Assert.Equal(["partial-api"], updated.Json.GetProperty("resources").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task Deleting_the_admin_scope_is_a_409_and_the_admin_api_keeps_working()
    {
        AssertProblem(await admin.DeleteAsync("/admin/scopes/admin"), HttpStatusCode.Conflict);

        AssertStatus(await admin.GetAsync("/admin/scopes/admin"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Renaming_a_scope_is_a_400_keyed_by_name()
    {
        var name = Unique("fixed");
        await Tokens.RegisterScopeAsync(name, "fixed-api");

        AssertFieldError(await admin.PutAsync($"/admin/scopes/{name}", new { name = name + "-renamed", resources = new[] { "fixed-api" } }), "name");
        AssertStatus(await admin.GetAsync($"/admin/scopes/{name}"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Deleting_a_scope_removes_it_and_clients_can_no_longer_register_for_it()
    {
        var name = Unique("gone");
        await Tokens.RegisterScopeAsync(name, "gone-api");

        var deleted = await admin.DeleteAsync($"/admin/scopes/{name}");

        AssertStatus(deleted, HttpStatusCode.NoContent);
        AssertProblem(await admin.GetAsync($"/admin/scopes/{name}"), HttpStatusCode.NotFound);
        Assert.DoesNotContain(name, (await admin.GetAsync("/admin/scopes")).Text, StringComparison.Ordinal);
        var client = await admin.PostAsync("/admin/clients", new { clientId = Unique("worker"), grantTypes = new[] { "client_credentials" }, scopes = new[] { name } });
        AssertFieldError(client, "scopes");
    }

    [Fact]
    public async Task Deleting_a_scope_takes_it_from_the_clients_that_had_it_and_they_stay_editable()
    {
        var name = Unique("withdrawn");
        await Tokens.RegisterScopeAsync(name, "withdrawn-api");
        var clientId = Unique("holder");
        AssertStatus(await admin.PostAsync("/admin/clients", new { clientId, grantTypes = new[] { "client_credentials" }, scopes = new[] { name } }), HttpStatusCode.Created);
        // A client with a scope whose name only starts like it keeps that one.
        await Tokens.RegisterScopeAsync(name + "-more", "withdrawn-api");
        var neighbourId = Unique("neighbour");
        AssertStatus(await admin.PostAsync("/admin/clients", new { clientId = neighbourId, grantTypes = new[] { "client_credentials" }, scopes = new[] { name + "-more" } }), HttpStatusCode.Created);

        AssertStatus(await admin.DeleteAsync($"/admin/scopes/{name}"), HttpStatusCode.NoContent);

        Assert.Equal([name + "-more"], (await admin.GetAsync($"/admin/clients/{neighbourId}")).Json.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        var deleted = (await admin.AuditAsync(name)).Single(a => a.Action == "scope.deleted");
        Assert.Contains(clientId, deleted.Details, StringComparison.Ordinal);
        Assert.DoesNotContain(neighbourId, deleted.Details, StringComparison.Ordinal);

        var edited = await admin.PutAsync($"/admin/clients/{clientId}", new { displayName = "Still editable" });
        AssertStatus(edited, HttpStatusCode.OK);
        Assert.DoesNotContain(name, edited.Json.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        // A scope created again later under that name is not the client's without an admin granting it anew.
        await Tokens.RegisterScopeAsync(name, "withdrawn-api");
        Assert.DoesNotContain(name, (await admin.GetAsync($"/admin/clients/{clientId}")).Json.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
    }

    [Fact]
    public async Task Every_change_to_a_scope_is_audited()
    {
        var name = Unique("audited");
        await Tokens.RegisterScopeAsync(name, "a-api");
        await admin.PutAsync($"/admin/scopes/{name}", new { name, resources = new[] { "b-api" } });
        await admin.DeleteAsync($"/admin/scopes/{name}");

        var audit = await admin.AuditAsync(name);

        Assert.Equal(["scope.created", "scope.updated", "scope.deleted"], audit.Select(a => a.Action));
        Assert.All(audit, a => Assert.Equal(IdentityServerFactory.AdminClientId, a.Actor));
        Assert.Contains("b-api", audit[1].Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Creating_a_scope_that_exists_is_a_409()
    {
        var name = Unique("dup");
        await Tokens.RegisterScopeAsync(name, "dup-api");

        AssertProblem(await admin.PostAsync("/admin/scopes", new { name, resources = new[] { "other-api" } }), HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("openid")]
    [InlineData("offline_access")]
    [InlineData("admin")]
    public async Task Creating_a_built_in_scope_is_a_409(string name)
    {
        AssertProblem(await admin.PostAsync("/admin/scopes", new { name }), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task The_openid_connect_scopes_are_listed_and_read_like_stored_ones_but_cannot_be_changed()
    {
        var listed = await admin.GetAsync("/admin/scopes");
        var profile = await admin.GetAsync("/admin/scopes/profile");

        AssertStatus(listed, HttpStatusCode.OK);
        var names = listed.Json.EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToList();
        Assert.Subset(names.ToHashSet(), new HashSet<string?> { "openid", "profile", "email", "roles", "offline_access" });
        AssertStatus(profile, HttpStatusCode.OK);
        Assert.Equal("profile", profile.Json.GetProperty("name").GetString());
        Assert.Empty(Resources(profile.Json));
        AssertProblem(await admin.SendAsync(HttpMethod.Put, "/admin/scopes/profile", new { name = "profile", resources = new[] { "x-api" } }), HttpStatusCode.Conflict);
        AssertProblem(await admin.SendAsync(HttpMethod.Delete, "/admin/scopes/openid"), HttpStatusCode.Conflict);
        Assert.Empty(Resources((await admin.GetAsync("/admin/scopes/profile")).Json));
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task An_unknown_scope_is_a_404(string method)
    {
        var name = Unique("ghost");

        var response = await admin.SendAsync(new HttpMethod(method), $"/admin/scopes/{name}", method == "PUT" ? new { name } : null);

        AssertProblem(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_scope_an_earlier_version_let_be_named_with_a_slash_is_read_edited_and_deleted_by_its_encoded_name()
    {
        var name = Unique("orders") + "/read";
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IOpenIddictScopeManager>()
                .CreateAsync(new OpenIddictScopeDescriptor { Name = name, Resources = { "orders-api" } });
        }

        var path = "/admin/scopes/" + Uri.EscapeDataString(name);
        var read = await admin.GetAsync(path);
        var edited = await admin.PutAsync(path, new { displayName = "Read orders" });
        var deleted = await admin.DeleteAsync(path);

        Assert.Equal(HttpStatusCode.OK, read.Status);
        Assert.Equal(name, read.Json.GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.OK, edited.Status);
        Assert.Equal("Read orders", edited.Json.GetProperty("displayName").GetString());
        Assert.Equal(HttpStatusCode.NoContent, deleted.Status);
        AssertProblem(await admin.GetAsync(path), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_scope_an_earlier_version_let_be_named_with_a_percent_sign_is_reached_by_its_encoded_name_and_not_another()
    {
        var prefix = Unique("pct");
        var percent = prefix + "%41y";   // the name itself holds "%41"
        var plain = prefix + "Ay";
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var scopes = scope.ServiceProvider.GetRequiredService<IOpenIddictScopeManager>();
            await scopes.CreateAsync(new OpenIddictScopeDescriptor { Name = percent, Resources = { "pct-api" } });
            await scopes.CreateAsync(new OpenIddictScopeDescriptor { Name = plain, Resources = { "pct-api" } });
        }

        var deleted = await admin.DeleteAsync("/admin/scopes/" + Uri.EscapeDataString(percent));

        Assert.Equal(HttpStatusCode.NoContent, deleted.Status);
        AssertProblem(await admin.GetAsync("/admin/scopes/" + Uri.EscapeDataString(percent)), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/admin/scopes/" + plain)).Status);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("\"\"")]
    public async Task A_null_or_blank_resource_is_a_400_keyed_by_resources_not_dropped(string bad)
    {
        var response = await admin.SendRawAsync(HttpMethod.Post, "/admin/scopes", $"{{\"name\":\"{Unique("res")}\",\"resources\":[\"api\",{bad}]}}");

        AssertFieldError(response, "resources");
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("has space")]
    [InlineData("quote\"inside")]
    [InlineData("back\\slash")]
    [InlineData("api/read")]
    [InlineData("100%")]
    public async Task An_invalid_scope_name_is_a_400_keyed_by_name(string? name)
    {
        AssertFieldError(await admin.PostAsync("/admin/scopes", new { name, resources = new[] { "x-api" } }), "name");
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("")]
    public async Task An_invalid_resource_is_a_400_keyed_by_resources(string resource)
    {
        AssertFieldError(await admin.PostAsync("/admin/scopes", new { name = Unique("res"), resources = new[] { resource } }), "resources");
    }

    [Fact]
    public async Task A_display_name_over_200_characters_is_a_400_keyed_by_displayName()
    {
        AssertFieldError(await admin.PostAsync("/admin/scopes", new { name = Unique("long"), displayName = new string('x', 201) }), "displayName");
    }

    [Theory]
    [InlineData("{\"name\": ")]
    [InlineData("{\"name\": \"x\", \"resources\": \"not-a-list\"}")]
    [InlineData("\"just a string\"")]
    public async Task A_malformed_json_body_is_a_400_problem_not_a_500(string json)
    {
        AssertProblem(await admin.SendRawAsync(HttpMethod.Post, "/admin/scopes", json), HttpStatusCode.BadRequest);
    }
}
