using IdentityServer.Connect;
using IdentityServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenIddict.Server;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// OpenIddict's events are dispatched from an index of their handlers: each event must run what OpenIddict's own
/// dispatcher would, in its order, and a handler kept per request must still be made per request.
/// </summary>
public sealed class IndexedServerDispatcherTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    [Fact]
    public void Every_event_runs_the_handlers_registered_for_it_in_their_order()
    {
        var registered = factory.Services.GetRequiredService<IOptionsMonitor<OpenIddictServerOptions>>().CurrentValue.Handlers;
        var index = factory.Services.GetRequiredService<ServerHandlerIndex>();
        var events = registered.Select(descriptor => descriptor.ContextType).Distinct().ToList();

        Assert.True(events.Count > 40, $"only {events.Count} events have handlers");
        foreach (var eventType in events)
        {
            var expected = registered.Where(descriptor => descriptor.ContextType == eventType)
                .Select(descriptor => descriptor.ServiceDescriptor.ServiceType);
            Assert.Equal(expected, IndexedServiceTypes(index, eventType));
        }
    }

    [Fact]
    public void A_scoped_handler_is_made_for_each_request_and_a_singleton_once()
    {
        var index = factory.Services.GetRequiredService<ServerHandlerIndex>();
        var signIn = index.HandlersOf<OpenIddictServerEvents.ProcessSignInContext>();
        var scoped = signIn.Single(handler => handler.ServiceType == typeof(TokenWrites.Begin));
        var singleton = signIn.Single(handler => handler.ServiceType == typeof(OpenIddictServerHandlers.ValidateSignInDemand));

        using var first = factory.Services.CreateScope();
        using var second = factory.Services.CreateScope();

        Assert.NotSame(scoped.Resolve(first.ServiceProvider), scoped.Resolve(second.ServiceProvider));
        Assert.Same(scoped.Resolve(first.ServiceProvider), scoped.Resolve(first.ServiceProvider));
        Assert.Same(singleton.Resolve(first.ServiceProvider), singleton.Resolve(second.ServiceProvider));
        Assert.IsType<IndexedServerDispatcher>(first.ServiceProvider.GetRequiredService<IOpenIddictServerDispatcher>());
    }

    private static IEnumerable<Type> IndexedServiceTypes(ServerHandlerIndex index, Type eventType)
    {
        var handlers = typeof(ServerHandlerIndex).GetMethod(nameof(ServerHandlerIndex.HandlersOf))!
            .MakeGenericMethod(eventType).Invoke(index, null)!;
        return ((System.Collections.IEnumerable)handlers).Cast<object>()
            .Select(handler => (Type)handler.GetType().GetProperty("ServiceType")!.GetValue(handler)!);
    }
}
