using Microsoft.Playwright;

namespace IdentityServer.EndToEnd.Tests.Infrastructure;

/// <summary>Tests driving one page in a fresh browser profile of the shared deployment's Chromium, one per test.</summary>
public abstract class BrowserTests(Func<Task<IBrowserContext>> newBrowserContext) : IAsyncLifetime
{
    private IBrowserContext? browser;

    protected IPage Page { get; private set; } = null!;

    public Task InitializeAsync() => StartAFreshBrowserAsync();

    public async Task DisposeAsync()
    {
        if (browser is not null)
        {
            await browser.DisposeAsync();
        }
    }

    /// <summary>Another browser with no cookies at all, as a person on a new device; the previous one is closed.</summary>
    protected async Task StartAFreshBrowserAsync()
    {
        await DisposeAsync();
        browser = await newBrowserContext();
        Page = await browser.NewPageAsync();
    }
}
