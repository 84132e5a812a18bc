using IdentityServer.Connect;
using IdentityServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace IdentityServer.Tests.Connect;

/// <summary>
/// OpenIddict's events are dispatched from an index of their handlers: each event must run what OpenIddict's own
/// dispatcher runs, in its order, with the same filters and stops, and a handler kept per request made per request.
/// </summary>
public sealed class IndexedServerDispatcherTests(IdentityServerFactory factory) : IClassFixture<IdentityServerFactory>
{
    [Theory]
    [InlineData(Stop.None)]
    [InlineData(Stop.Handle)]
    [InlineData(Stop.Skip)]
    [InlineData(Stop.Reject)]
    public async Task Handlers_filters_and_stops_run_as_with_OpenIddicts_own_dispatcher(Stop stop)
    {
        var withOpenIddicts = await DispatchTwiceAsync(stop, (monitor, root, _, scope) =>
            new OpenIddictServerDispatcher(NullLogger<OpenIddictServerDispatcher>.Instance, monitor, scope));
        var withIndex = await DispatchTwiceAsync(stop, (monitor, root, registrations, scope) =>
            new IndexedServerDispatcher(new ServerHandlerIndex(monitor, root, registrations), scope));

        Assert.Equal(withOpenIddicts, withIndex);
        Assert.Contains("scoped#2", withIndex);
        Assert.Equal(stop == Stop.None, withIndex.Contains("last#1"));
    }

    [Fact]
    public void Every_event_of_the_server_lists_the_handlers_registered_for_it_in_their_order()
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

        using var scope = factory.Services.CreateScope();
        Assert.IsType<IndexedServerDispatcher>(scope.ServiceProvider.GetRequiredService<IOpenIddictServerDispatcher>());
    }

    public enum Stop { None, Handle, Skip, Reject }

    /// <summary>
    /// Dispatches one event in two requests (scopes) through a container holding handlers of every lifetime, with
    /// passing and failing filters, one handler that stops the event as told and one for another event; returns
    /// what ran, each entry naming the handler or filter and which instance of it.
    /// </summary>
    private static async Task<List<string>> DispatchTwiceAsync(
        Stop stop, Func<IOptionsMonitor<OpenIddictServerOptions>, IServiceProvider, IServiceCollection, IServiceProvider, IOpenIddictServerDispatcher> dispatcher)
    {
        var recorder = new Recorder(stop);
        var descriptors = new[]
        {
            Descriptor(1, builder => builder.UseSingletonHandler<SingletonStep>().AddFilter<PassingFilter>()),
            Descriptor(2, builder => builder.UseScopedHandler<ScopedStep>()),
            Descriptor(3, builder => builder.UseScopedHandler(provider => new FactoryStep(provider.GetRequiredService<Recorder>()))
                .AddFilter<PassingFilter>().AddFilter<FailingFilter>()),
            Descriptor(4, builder => builder.UseInlineHandler(_ => { recorder.Calls.Add("inline"); return default; })
                .AddFilter<FailingFilter>().AddFilter<PassingFilter>()),
            Descriptor(5, builder => builder.UseSingletonHandler<StoppingStep>().AddFilter<ScopedFilter>()),
            Descriptor(6, builder => builder.UseScopedHandler<LastStep>()),
            OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessErrorContext>()
                .UseInlineHandler(_ => { recorder.Calls.Add("other-event"); return default; }).SetOrder(0).Build(),
        };

        IServiceCollection services = new ServiceCollection();
        services.AddSingleton(recorder);
        services.AddSingleton<PassingFilter>();
        services.AddSingleton<FailingFilter>();
        services.AddScoped<ScopedFilter>();
        foreach (var descriptor in descriptors)
        {
            services.Add(descriptor.ServiceDescriptor);
        }

        var options = new OpenIddictServerOptions();
        options.Handlers.Clear();   // OpenIddict's own, listed by default
        options.Handlers.AddRange(descriptors.OrderBy(descriptor => descriptor.Order));
        var monitor = new FixedOptions(options);
        await using var root = services.BuildServiceProvider(validateScopes: true);
        for (var request = 0; request < 2; request++)
        {
            await using var scope = root.CreateAsyncScope();
            var context = new ProcessRequestContext(new OpenIddictServerTransaction { Options = options, Logger = NullLogger.Instance });
            await dispatcher(monitor, root, services, scope.ServiceProvider).DispatchAsync(context);
            recorder.Calls.Add("--");
        }

        return recorder.Calls;
    }

    private static OpenIddictServerHandlerDescriptor Descriptor(
        int order, Func<OpenIddictServerHandlerDescriptor.Builder<ProcessRequestContext>, OpenIddictServerHandlerDescriptor.Builder<ProcessRequestContext>> build) =>
        build(OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessRequestContext>()).SetOrder(order).Build();

    private static IEnumerable<Type> IndexedServiceTypes(ServerHandlerIndex index, Type eventType)
    {
        var handlers = typeof(ServerHandlerIndex).GetMethod(nameof(ServerHandlerIndex.HandlersOf))!
            .MakeGenericMethod(eventType).Invoke(index, null)!;
        return ((System.Collections.IEnumerable)handlers).Cast<object>()
            .Select(handler => (Type)handler.GetType().GetProperty("ServiceType")!.GetValue(handler)!);
    }

    private sealed class FixedOptions(OpenIddictServerOptions options) : IOptionsMonitor<OpenIddictServerOptions>
    {
        public OpenIddictServerOptions CurrentValue => options;

        public OpenIddictServerOptions Get(string? name) => options;

        public IDisposable? OnChange(Action<OpenIddictServerOptions, string?> listener) => null;
    }

    public sealed class Recorder(Stop stop)
    {
        private readonly Dictionary<string, int> made = [];

        public Stop Stop => stop;

        public List<string> Calls { get; } = [];

        public string Made(string name) => $"{name}#{made[name] = made.GetValueOrDefault(name) + 1}";
    }

    public abstract class Step(Recorder recorder, string name) : IOpenIddictServerHandler<ProcessRequestContext>
    {
        private readonly string instance = recorder.Made(name);

        protected Recorder Recorder => recorder;

        public virtual ValueTask HandleAsync(ProcessRequestContext context)
        {
            recorder.Calls.Add(instance);
            return default;
        }
    }

    public sealed class SingletonStep(Recorder recorder) : Step(recorder, "singleton");

    public sealed class ScopedStep(Recorder recorder) : Step(recorder, "scoped");

    public sealed class FactoryStep(Recorder recorder) : Step(recorder, "factory");

    public sealed class LastStep(Recorder recorder) : Step(recorder, "last");

    public sealed class StoppingStep(Recorder recorder) : Step(recorder, "stopping")
    {
        public override async ValueTask HandleAsync(ProcessRequestContext context)
        {
            await base.HandleAsync(context);
            switch (Recorder.Stop)
            {
                case Stop.Handle: context.HandleRequest(); break;
                case Stop.Skip: context.SkipRequest(); break;
                case Stop.Reject: context.Reject("invalid_request"); break;
            }
        }
    }

    public abstract class Filter(Recorder recorder, string name, bool active) : IOpenIddictServerHandlerFilter<ProcessRequestContext>
    {
        private readonly string instance = recorder.Made(name);

        public ValueTask<bool> IsActiveAsync(ProcessRequestContext context)
        {
            recorder.Calls.Add(instance);
            return ValueTask.FromResult(active);
        }
    }

    public sealed class PassingFilter(Recorder recorder) : Filter(recorder, "passing", active: true);

    public sealed class FailingFilter(Recorder recorder) : Filter(recorder, "failing", active: false);

    public sealed class ScopedFilter(Recorder recorder) : Filter(recorder, "scoped-filter", active: true);
}
