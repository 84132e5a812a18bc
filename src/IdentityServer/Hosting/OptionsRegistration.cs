using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace IdentityServer.Hosting;

public static class OptionsRegistration
{
    private static readonly ConcurrentDictionary<Type, string> Sections = new();

    /// <summary>Binds an options class to its configuration section and validates it when the host starts.</summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IHostApplicationBuilder builder, string sectionName)
        where TOptions : class
    {
        Sections[typeof(TOptions)] = sectionName;
        return builder.Services.AddOptions<TOptions>()
            .Bind(builder.Configuration.GetSection(sectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
    }

    /// <summary>The configuration section an options class is bound to, for messages an operator can act on (the
    /// validation messages name the class, <c>ConnectOptions</c>, not the section, <c>IdentityServer</c>).</summary>
    public static string? SectionOf(Type optionsType) => Sections.GetValueOrDefault(optionsType);
}
