using System.ComponentModel.DataAnnotations;
using IdentityServer.Connect;
using IdentityServer.Users;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace IdentityServer.Admin;

public sealed class BootstrapOptions : IValidatableObject
{
    public const string SectionName = "Bootstrap";

    public string? AdminClientId { get; set; }

    public string? AdminClientSecret { get; set; }

    public string? AdminUsername { get; set; }

    public string? AdminPassword { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrEmpty(AdminClientId) != string.IsNullOrEmpty(AdminClientSecret))
        {
            yield return new ValidationResult("Set both Bootstrap:AdminClientId and Bootstrap:AdminClientSecret, or neither.",
                [nameof(AdminClientId), nameof(AdminClientSecret)]);
        }

        if (string.IsNullOrEmpty(AdminUsername) != string.IsNullOrEmpty(AdminPassword))
        {
            yield return new ValidationResult("Set both Bootstrap:AdminUsername and Bootstrap:AdminPassword, or neither.",
                [nameof(AdminUsername), nameof(AdminPassword)]);
        }
    }
}

/// <summary>
/// Makes sure, at every start, that the <c>admin</c> scope exists and, when configured, the admin client (with
/// exactly the configured secret) and the admin user. Running it twice changes nothing.
/// </summary>
internal sealed partial class Bootstrap(IServiceScopeFactory scopes, IOptions<BootstrapOptions> options, ILogger<Bootstrap> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Replicas starting together on a new database race to create the same rows; the loser of a unique-index
        // race simply runs again and finds what the winner made. Each of the four rows (scope, client, role, user)
        // can be lost once, hence more tries than rows.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await EnsureAsync(cancellationToken);
                return;
            }
            catch (Exception exception) when (attempt < 6 && exception is DbUpdateException or OpenIddictExceptions.ConcurrencyException or OpenIddictExceptions.ValidationException)
            {
                LogRetry(logger, exception);
            }
        }
    }

    private async Task EnsureAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        await EnsureAdminScopeAsync(services.GetRequiredService<IOpenIddictScopeManager>(), cancellationToken);

        var bootstrap = options.Value;
        if (!string.IsNullOrEmpty(bootstrap.AdminClientId))
        {
            if (bootstrap.AdminClientSecret!.Length < ClientsEndpoints.MinimumSecretLength)
            {
                // Not refused (an existing deployment would stop starting), but said: it opens the admin API.
                LogShortAdminSecret(logger, ClientsEndpoints.MinimumSecretLength);
            }

            await EnsureAdminClientAsync(services.GetRequiredService<IOpenIddictApplicationManager>(),
                bootstrap.AdminClientId, bootstrap.AdminClientSecret!, cancellationToken);
        }

        if (!string.IsNullOrEmpty(bootstrap.AdminUsername))
        {
            await EnsureAdminUserAsync(services, bootstrap.AdminUsername, bootstrap.AdminPassword!);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static async Task EnsureAdminScopeAsync(IOpenIddictScopeManager scopes, CancellationToken cancellationToken)
    {
        if (await scopes.FindByNameAsync(StandardScopes.Admin, cancellationToken) is null)
        {
            await scopes.CreateAsync(new OpenIddictScopeDescriptor
            {
                Name = StandardScopes.Admin,
                DisplayName = "Administer this server",
                Resources = { StandardScopes.AdminResource },
            }, cancellationToken);
        }
    }

    private async Task EnsureAdminClientAsync(IOpenIddictApplicationManager applications, string clientId, string secret, CancellationToken cancellationToken)
    {
        var application = await applications.FindStoredByClientIdAsync(clientId, cancellationToken);
        var descriptor = new OpenIddictApplicationDescriptor();
        if (application is not null)
        {
            await applications.PopulateAsync(descriptor, application, cancellationToken);
        }

        descriptor.ClientId = clientId;
        descriptor.DisplayName ??= "Bootstrap admin client";
        descriptor.ClientType = ClientTypes.Confidential;
        descriptor.ConsentType ??= ConsentTypes.Implicit;
        // What the admin API gives every confidential client (revocation, introspection), and what the client is for.
        var changed = descriptor.Permissions.Add(Permissions.Endpoints.Token)
            | descriptor.Permissions.Add(Permissions.Endpoints.Revocation)
            | descriptor.Permissions.Add(Permissions.Endpoints.Introspection)
            | descriptor.Permissions.Add(Permissions.GrantTypes.ClientCredentials)
            | descriptor.Permissions.Add(Permissions.Prefixes.Scope + StandardScopes.Admin);

        if (application is null)
        {
            descriptor.ClientSecret = secret;
            await applications.CreateAsync(descriptor, cancellationToken);
            LogBootstrapped(logger, "client", clientId);
            return;
        }

        var secretMatches = await applications.ValidateClientSecretAsync(application, secret, cancellationToken);
        if (!secretMatches)
        {
            // Set with the rest: a client turned public has no secret, and a confidential one without is invalid.
            // The manager hashes a secret that changed in the descriptor.
            descriptor.ClientSecret = secret;
        }

        if (changed || !secretMatches || !await applications.HasClientTypeAsync(application, ClientTypes.Confidential, cancellationToken))
        {
            await applications.UpdateAsync(application, descriptor, cancellationToken);
        }

        if (!secretMatches)
        {
            LogBootstrapped(logger, "client secret", clientId);
        }
    }

    private async Task EnsureAdminUserAsync(IServiceProvider services, string username, string password)
    {
        var users = services.GetRequiredService<UserManager<ApplicationUser>>();
        var roles = services.GetRequiredService<RoleManager<IdentityRole>>();
        if (!await roles.RoleExistsAsync(ApplicationUser.AdminRole))
        {
            await roles.CreateAsync(new IdentityRole(ApplicationUser.AdminRole));
        }

        var user = await users.FindByNameAsync(username);
        if (user is null)
        {
            user = new ApplicationUser
            {
                UserName = username,
                Enabled = true,
                CreatedAt = services.GetRequiredService<TimeProvider>().GetUtcNow(),
            };
            var created = await users.CreateAsync(user, password);
            if (!created.Succeeded && created.Errors.Any(e => e.Code == nameof(IdentityErrorDescriber.DuplicateUserName))
                && await users.FindByNameAsync(username) is not null)
            {
                // Another replica created it a moment ago.
                throw new DbUpdateException("The admin user was created concurrently.");
            }

            if (!created.Succeeded)
            {
                throw new InvalidOperationException(
                    "The bootstrap admin user (Bootstrap:AdminUsername, Bootstrap:AdminPassword) was refused: " + string.Join(" ", created.Errors.Select(e => e.Description)));
            }

            await users.AddToRoleAsync(user, ApplicationUser.AdminRole);
            LogBootstrapped(logger, "user", username);
        }
        else if (!user.Enabled || !await users.IsInRoleAsync(user, ApplicationUser.AdminRole))
        {
            // Given back its role (and enabled) only if it is the operator's account: one whose password is the
            // configured one. Anyone may register a name before an operator configures it (or after the first admin
            // is renamed or deleted); such an account is left as it is, or its owner would be made admin at a restart.
            if (!await users.CheckPasswordAsync(user, password))
            {
                LogNameTaken(logger, username);
                return;
            }

            user.Enabled = true;
            await users.UpdateAsync(user);
            if (!await users.IsInRoleAsync(user, ApplicationUser.AdminRole))
            {
                await users.AddToRoleAsync(user, ApplicationUser.AdminRole);
            }

            LogBootstrapped(logger, "role and enabled state of user", username);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bootstrap:AdminClientSecret is shorter than the {Minimum} characters the admin API asks of any client secret, and it opens the admin API: configure a longer one.")]
    private static partial void LogShortAdminSecret(ILogger logger, int minimum);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bootstrap met a concurrent writer and runs again.")]
    private static partial void LogRetry(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bootstrap:AdminUsername '{Name}' names an existing user who is not an enabled admin and whose password is not Bootstrap:AdminPassword: it was left as it is, and no admin user was bootstrapped. Configure another name, or give that user its password.")]
    private static partial void LogNameTaken(ILogger logger, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bootstrap created (or restored) the admin {What} '{Name}'.")]
    private static partial void LogBootstrapped(ILogger logger, string what, string name);
}
