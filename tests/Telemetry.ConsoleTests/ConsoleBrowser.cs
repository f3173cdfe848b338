using Microsoft.Playwright;

namespace Telemetry.ConsoleTests;

/// <summary>
/// Headless chromium from the system (Debian's <c>chromium</c> package, <c>/usr/bin/chromium</c>, or
/// <c>CHROMIUM_PATH</c>), driven by Playwright. Playwright's own browser download is never used: a machine without
/// the browser fails these tests with a message naming the package, it does not skip them.
/// </summary>
public sealed class ConsoleBrowser : IAsyncDisposable
{
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public static string ExecutablePath => Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public async Task StartAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new FileNotFoundException($"No chromium at {ExecutablePath}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH.", ExecutablePath);
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            // Root (as CI runs) cannot use chromium's sandbox; the page is our own, on loopback.
            Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>A fresh browser context (its own session storage, as a new tab would have).</summary>
    public async Task<IPage> NewPageAsync(Uri baseAddress)
    {
        var context = await (_browser ?? throw new InvalidOperationException("The browser is not started.")).NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1440, Height = 900 },
        });
        return await context.NewPageAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}
