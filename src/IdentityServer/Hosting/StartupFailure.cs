namespace IdentityServer.Hosting;

/// <summary>The one line an operator reads when the server refuses to start.</summary>
public static class StartupFailure
{
    /// <summary>
    /// An exception that leaves Program (a setting out of range, an unknown provider, an unreachable database, plain
    /// HTTP off loopback) ends the process with one line on standard error and exit code 1, as Keycloak does, instead
    /// of the runtime's abort (exit code 134, a core dump where enabled). The host has logged the details and been
    /// disposed by then. Under the test host, which runs Program on a thread of its own and catches what it throws,
    /// nothing changes.
    /// </summary>
    public static void ExitWithOneLine()
    {
        // The host stops on these too (its console lifetime has its own registrations); this only remembers that a stop
        // was asked for, so that start-up cut short by it is not reported as a failure.
        foreach (var signal in new[] { System.Runtime.InteropServices.PosixSignal.SIGTERM, System.Runtime.InteropServices.PosixSignal.SIGINT })
        {
            StopSignals.Add(System.Runtime.InteropServices.PosixSignalRegistration.Create(signal, _ => stopRequested = true));
        }

        AppDomain.CurrentDomain.UnhandledException += (_, failure) =>
        {
            var exception = (Exception)failure.ExceptionObject;
            if (IsStopDuringStart(exception, stopRequested && !started))
            {
                // A rollout or scale-in that stops an instance while it migrates or loads keys: a stop, not a crash.
                Console.Error.WriteLine("IdentityServer stopped before it finished starting, as asked.");
                Environment.Exit(0);
            }

            Console.Error.WriteLine($"IdentityServer stopped: {Describe(exception)}");
            Environment.Exit(1);
        };
    }

    /// <summary>Start-up cancelled because a stop was asked for (SIGTERM, Ctrl+C), and for no other reason.</summary>
    public static bool IsStopDuringStart(Exception failure, bool stopRequested) =>
        stopRequested && Causes(failure).All(cause => cause is OperationCanceledException);

    private static volatile bool stopRequested;
    private static volatile bool started;

    /// <summary>From here on a cancellation is a failure at shutdown, not a start-up cut short.</summary>
    public static void WatchStart(IHostApplicationLifetime lifetime) => lifetime.ApplicationStarted.Register(() => started = true);

    // Kept referenced: a registration that is collected stops listening.
    private static readonly List<System.Runtime.InteropServices.PosixSignalRegistration> StopSignals = [];

    private static IEnumerable<Exception> Causes(Exception failure) =>
        failure is AggregateException aggregate
            ? aggregate.InnerExceptions.SelectMany(Causes)
            : failure.InnerException is { } inner ? Causes(inner).Prepend(failure) : [failure];

    /// <summary>The failure's message and those of its causes, each once: the outer one often only says where it
    /// happened ("Hosting failed to start"), an inner one why (the setting, the refused connection).</summary>
    public static string Describe(Exception failure)
    {
        var messages = new List<string>();
        var pending = new Queue<Exception>([failure]);
        while (pending.TryDequeue(out var current))
        {
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    pending.Enqueue(inner);
                }

                continue;
            }

            var message = current.Message.Trim();
            if (current is Microsoft.Extensions.Options.OptionsValidationException { OptionsType: var type }
                && OptionsRegistration.SectionOf(type) is { } section)
            {
                message = $"Settings under '{section}': {message}";
            }

            if (message.Length > 0 && !messages.Any(known => known.Contains(message, StringComparison.Ordinal)))
            {
                messages.Add(message);
            }

            if (current.InnerException is not null)
            {
                pending.Enqueue(current.InnerException);
            }
        }

        return string.Join(" ", messages.Select(message => message.EndsWith('.') ? message : message + "."));
    }
}
