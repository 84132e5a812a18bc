using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using OpenIddict.Server;

namespace IdentityServer.Connect;

/// <summary>
/// Runs OpenIddict's server events as its own dispatcher does (the same handlers in the same order, the same filters
/// evaluated one after another, the same rules for stopping), without its cost per event: that one walks every
/// registered handler (about 400) for each of the twenty-odd events of a token request and resolves each matching
/// handler and filter from the container again, a tenth of a client_credentials request's CPU in a profile. Here each
/// event's handlers are listed once, and a singleton handler or filter, once resolved, is kept.
/// </summary>
internal sealed class IndexedServerDispatcher(ServerHandlerIndex index, IServiceProvider services) : IOpenIddictServerDispatcher
{
    public async ValueTask DispatchAsync<TContext>(TContext context) where TContext : OpenIddictServerEvents.BaseContext
    {
        ArgumentNullException.ThrowIfNull(context);

        foreach (var handler in index.HandlersOf<TContext>())
        {
            if (!await handler.IsActiveAsync(context, services))
            {
                continue;
            }

            await handler.Resolve(services).HandleAsync(context);

            if (context is OpenIddictServerEvents.BaseRequestContext request
                && (request.IsRequestHandled || request.IsRequestSkipped
                    || request is OpenIddictServerEvents.BaseValidatingContext { IsRejected: true }))
            {
                return;
            }
        }
    }
}

/// <summary>Each event's handlers, in OpenIddict's order, listed at the event's first dispatch.</summary>
internal sealed class ServerHandlerIndex(IOptionsMonitor<OpenIddictServerOptions> options, IServiceProvider root, IServiceCollection registrations)
{
    // The lists are those of one options instance; OpenIddict's dispatcher reads the options at every event, so a
    // reloaded instance starts a new index.
    private volatile Snapshot current = new(null, new());

    private sealed record Snapshot(OpenIddictServerOptions? Options, ConcurrentDictionary<Type, object> HandlersByEvent);

    public IReadOnlyList<IndexedHandler<TContext>> HandlersOf<TContext>() where TContext : OpenIddictServerEvents.BaseContext
    {
        var value = options.CurrentValue;
        var snapshot = current;
        if (!ReferenceEquals(snapshot.Options, value))
        {
            current = snapshot = new Snapshot(value, new());
        }

        return (IndexedHandler<TContext>[])snapshot.HandlersByEvent.GetOrAdd(
            typeof(TContext), static (_, state) => state.Index.Build<TContext>(state.Options), (Index: this, Options: value));
    }

    private IndexedHandler<TContext>[] Build<TContext>(OpenIddictServerOptions server) where TContext : OpenIddictServerEvents.BaseContext =>
        [.. server.Handlers
            .Where(descriptor => descriptor.ContextType == typeof(TContext))
            .Select(descriptor => new IndexedHandler<TContext>(
                new Resolver<IOpenIddictServerHandler<TContext>>(
                    descriptor.ServiceDescriptor.ServiceType,
                    descriptor.ServiceDescriptor.ImplementationInstance as IOpenIddictServerHandler<TContext>,
                    IsSingleton(descriptor.ServiceDescriptor.ServiceType) ? root : null),
                [.. descriptor.FilterTypes.Select(type =>
                    new Resolver<IOpenIddictServerHandlerFilter<TContext>>(type, null, IsSingleton(type) ? root : null))]))];

    // As the container resolves it: by its last registration. Scoped and transient ones are resolved at every event.
    private bool IsSingleton(Type serviceType) =>
        registrations.LastOrDefault(registration => registration.ServiceType == serviceType && !registration.IsKeyedService)
            is { Lifetime: ServiceLifetime.Singleton };
}

/// <summary>
/// Resolves a handler or filter as OpenIddict does, when it is first needed; a singleton (given its root provider) is
/// kept after that first time.
/// </summary>
internal sealed class Resolver<T>(Type serviceType, T? instance, IServiceProvider? singletonRoot) where T : class
{
    private T? kept = instance;

    public Type ServiceType => serviceType;

    public T Resolve(IServiceProvider services)
    {
        if (kept is { } known)
        {
            return known;
        }

        var resolved = (singletonRoot ?? services).GetService(serviceType) as T
            ?? throw new InvalidOperationException($"'{serviceType}' is not registered as a {typeof(T).Name} in the container.");
        if (singletonRoot is not null)
        {
            kept = resolved;
        }

        return resolved;
    }
}

internal sealed class IndexedHandler<TContext>(
    Resolver<IOpenIddictServerHandler<TContext>> handler, Resolver<IOpenIddictServerHandlerFilter<TContext>>[] filters)
    where TContext : OpenIddictServerEvents.BaseContext
{
    public Type ServiceType => handler.ServiceType;

    public IOpenIddictServerHandler<TContext> Resolve(IServiceProvider services) => handler.Resolve(services);

    public async ValueTask<bool> IsActiveAsync(TContext context, IServiceProvider services)
    {
        foreach (var filter in filters)
        {
            if (!await filter.Resolve(services).IsActiveAsync(context))
            {
                return false;
            }
        }

        return true;
    }
}
