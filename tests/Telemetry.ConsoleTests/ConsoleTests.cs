using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using MQTTnet.Formatter;
using Telemetry.EndToEndTests;
using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Console;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace Telemetry.ConsoleTests;

/// <summary>The operator console in a real browser against the running demo: what an agent, an analyst and an operator see and do.</summary>
public sealed partial class ConsoleTests(ConsoleFixture service) : IClassFixture<ConsoleFixture>
{
    /// <summary>Long enough for a loaded 2-core machine; every wait below is for an outcome, never a fixed time.</summary>
    private static readonly float Patience = 30_000;

    [Fact]
    public async Task Queue_ShowsAnAlertRaisedAfterItOpened_AndAcknowledgingItFromThePagePublishesOnMqtt()
    {
        const string device = "console-shoe-1";
        var page = await SignedInAsync(service.Browser, service.BaseAddress, ServiceFixture.ApiKey);
        await Expect(page.Locator("#queue")).ToBeVisibleAsync(new() { Timeout = Patience });
        // The key leaves the address bar once the tab has it.
        await Expect(page).ToHaveURLAsync(new Regex("^[^?]*$"), new() { Timeout = Patience });

        await using var watcher = await service.WatcherAsync("console-watcher", MqttProtocolVersion.V500, $"alerts/{device}");
        await service.CrossCushioningThresholdAsync(device);
        var raised = await watcher.ReceiveAsync($"alerts/{device}", a => a.GetProperty("state").GetString() == "raised", "raised event");
        var alertId = raised.GetProperty("id").GetString()!;

        var row = page.Locator("#queue tr").Filter(new() { Has = page.Locator($"a[data-alert='{alertId}']") });
        await Expect(row).ToBeVisibleAsync(new() { Timeout = Patience });
        await Expect(row.Locator(".alert-state")).ToHaveTextAsync("raised");
        await Expect(row).ToContainTextAsync("shoe.cushioning.replace_soon");

        await row.Locator("button.ack").ClickAsync();
        await page.Locator("#alert-note").FillAsync("called the runner from the console");
        await page.Locator("#alert-action-confirm").ClickAsync();

        var acknowledged = await watcher.ReceiveAsync($"alerts/{device}", a => a.GetProperty("state").GetString() == "acknowledged", "acknowledged event");
        Assert.Equal((alertId, "agent-console", "called the runner from the console"),
            (acknowledged.GetProperty("id").GetString(), acknowledged.GetProperty("actor").GetString(), acknowledged.GetProperty("note").GetString()));
        await Expect(row.Locator(".alert-state")).ToHaveTextAsync("acknowledged", new() { Timeout = Patience });
        await Expect(row).ToContainTextAsync("responded");

        // The README's picture: the queue with the simulated fleet's alerts and this one acknowledged.
        await Expect(page.Locator("#queue tbody tr")).Not.ToHaveCountAsync(1, new() { Timeout = Patience });
        await page.ScreenshotAsync(new() { Path = ScreenshotPath() });
    }

    [Fact]
    public async Task ReadOnlyKey_SeesTheQueueWithoutActions_AndAWrongKeyIsRefused()
    {
        var page = await service.Browser.NewPageAsync(service.BaseAddress);
        await page.GotoAsync("/");
        await page.Locator("#key").FillAsync("not-a-key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByText("No key in force matches that key.")).ToBeVisibleAsync(new() { Timeout = Patience });

        await page.Locator("#key").FillAsync(ConsoleFixture.ReadKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#queue")).ToBeVisibleAsync(new() { Timeout = Patience });
        await Expect(page.GetByText("Read-only key")).ToBeVisibleAsync();
        await Expect(page.Locator("#queue tbody tr").First).ToBeVisibleAsync(new() { Timeout = Patience });
        await Expect(page.Locator("#queue button.ack")).ToHaveCountAsync(0);
        await Expect(page.Locator("#queue button.resolve")).ToHaveCountAsync(0);

        // The session survives a reload of the tab, as sessionStorage does.
        await page.ReloadAsync();
        await Expect(page.Locator("#queue")).ToBeVisibleAsync(new() { Timeout = Patience });
    }

    [Fact]
    public async Task DevicePage_DrawsTheWearTrajectory_WithItsThresholds_AndListsTheAlert()
    {
        const string device = "console-shoe-2";
        await using var raised = await service.RaiseCushioningAlertAsync(device, "console-watcher-2");
        var (watcher, alertId) = (raised.Watcher, raised.Id);

        var page = await SignedInAsync(service.Browser, service.BaseAddress, ServiceFixture.ApiKey, $"devices/{device}");
        await Expect(page.Locator("#twin")).ToContainTextAsync("shoe", new() { Timeout = Patience });
        var chart = page.Locator("#wear-chart > svg");
        await Expect(chart).ToBeVisibleAsync(new() { Timeout = Patience });

        // Series are SVG paths drawn by the library: the trajectory's has one segment per step (40 so far, 40 projected).
        var segments = await chart.Locator("path").EvaluateAllAsync<int[]>("ps => ps.map(p => (p.getAttribute('d') || '').split(/[LC]/).length - 1)");
        Assert.True(segments.Count(s => s >= 20) >= 2, $"expected the trajectory's paths in the chart, saw segments {string.Join(",", segments)}");
        await Expect(page.Locator("#wear-chart")).ToContainTextAsync("shoe.cushioning.replace_soon < 70%");
        await Expect(page.Locator("#wear-chart")).ToContainTextAsync("km");

        var card = page.Locator($".device-alert[data-alert='{alertId}']");
        await Expect(card).ToContainTextAsync("raised");
        await Expect(card).ToContainTextAsync("by system");
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "console-device.png"), FullPage = true });
    }

    [Fact]
    public async Task QualityPage_ListsTheElevatedBatchFirst()
    {
        for (var i = 0; i < 40; i++)
        {
            await InServiceAsync($"cq-good-{i:D2}", "2026w30-good");
            await InServiceAsync($"cq-bad-{i:D2}", "2026w31-bad");
        }

        // Exposure reaches the quality view one-way after each device's round: wait until all 80 count.
        await service.WaitForJsonAsync("/api/quality/defect-rates?model=consolerun-1&failure_mode=delamination",
            rows => rows.EnumerateArray().Sum(r => r.GetProperty("devices").GetInt64()) >= 80, "80 devices in service");
        foreach (var device in Enumerable.Range(0, 6).Select(i => $"cq-bad-{i:D2}").Append("cq-good-00"))
        {
            var batch = device.StartsWith("cq-bad", StringComparison.Ordinal) ? "2026w31-bad" : "2026w30-good";
            using var posted = await service.Http.PostAsJsonAsync("/api/quality/events",
                new { device, model = "consolerun-1", batch, failure_mode = "delamination", kind = "return" });
            Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        }

        await service.WaitForJsonAsync("/api/quality/defect-rates?model=consolerun-1&batch=2026w31-bad&failure_mode=delamination",
            rows => rows.EnumerateArray().Any(r => r.GetProperty("status").GetString() == "elevated"), "the bad batch elevated");

        var page = await SignedInAsync(service.Browser, service.BaseAddress, ServiceFixture.ApiKey, "quality");
        var rows = page.Locator("#rates tbody tr");
        await Expect(rows.First.Locator(".quality-status")).ToHaveTextAsync("elevated", new() { Timeout = Patience });
        var statuses = await rows.Locator(".quality-status").AllTextContentsAsync();
        var batches = await rows.Locator(".batch").AllTextContentsAsync();
        var bad = batches.ToList().IndexOf("2026w31-bad");
        Assert.True(bad >= 0, $"the bad batch is not on the first page: {string.Join(", ", batches)}");
        Assert.All(statuses.Take(bad + 1), s => Assert.Equal("elevated", s));
        var good = batches.ToList().IndexOf("2026w30-good");
        Assert.True(good < 0 || good > bad, "the good batch is listed before the bad one");
        await Expect(page.Locator("#quality-chart > svg")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "console-quality.png"), FullPage = true });

        // The export button downloads what the API serves for the same filters.
        var download = await page.RunAndWaitForDownloadAsync(() => page.Locator("#export-csv").ClickAsync());
        var csv = await File.ReadAllTextAsync(await download.PathAsync());
        Assert.StartsWith("model,batch,failure_mode,devices,", csv, StringComparison.Ordinal);
        Assert.Contains("consolerun-1,2026w31-bad,delamination,40,", csv, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PipelinePage_ShowsTheCountersTheApiReports()
    {
        var page = await SignedInAsync(service.Browser, service.BaseAddress, ServiceFixture.ApiKey, "pipeline");
        await Expect(page.Locator("#health")).ToHaveTextAsync("Healthy", new() { Timeout = Patience });
        await Expect(page.Locator("#readings-rate")).ToHaveTextAsync(new Regex("^[0-9]+$"), new() { Timeout = Patience });
        // The page reads the counters the API reports: once the API has counted a line, the page shows at least as many.
        var stats = await service.WaitForJsonAsync("/api/ingest/stats", s => s.GetProperty("storage").GetProperty("lines_written").GetInt64() > 0, "lines written");
        var written = stats.GetProperty("storage").GetProperty("lines_written").GetInt64();
        await page.WaitForFunctionAsync("min => Number(document.querySelector('#lines-written')?.textContent) >= min", written, new() { Timeout = Patience });
        await Expect(page.Locator("#store")).ToContainTextAsync("Dead letters");
        await Expect(page.Locator("#rate-chart > svg")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "console-pipeline.png"), FullPage = true });
    }

    [Fact]
    public async Task ConsoleActions_RefuseAKeyWithoutOperate_AndAnUnknownKey_AsTheApiDoes()
    {
        const string device = "console-shoe-3";
        await using var raised = await service.RaiseCushioningAlertAsync(device, "console-watcher-3");
        var (watcher, alertId) = (raised.Watcher, raised.Id);

        // A tab's services, as its circuit has them: the buttons are hidden for a read key, and the server refuses anyway.
        using var tab = service.Services.CreateScope();
        var session = tab.ServiceProvider.GetRequiredService<ConsoleSession>();
        var actions = tab.ServiceProvider.GetRequiredService<ConsoleActions>();
        Assert.False(session.SignIn("no-such-key", "agent-x"));
        await Assert.ThrowsAsync<ScopeRequiredException>(() => actions.ChangeAlertAsync(alertId, AlertState.Acknowledged, null));

        Assert.True(session.SignIn(ConsoleFixture.ReadKey, "agent-x"));
        Assert.True(await session.HasAsync("read"));
        var refused = await Assert.ThrowsAsync<ScopeRequiredException>(() => actions.ChangeAlertAsync(alertId, AlertState.Acknowledged, null));
        Assert.Equal("operate", refused.Scope);
        await Assert.ThrowsAsync<ScopeRequiredException>(() => actions.ReplacedAsync(device, "shoe", null));

        using var view = await service.Http.GetAsync(new Uri($"/api/alerts/{alertId}", UriKind.Relative));
        Assert.Equal("raised", JsonDocument.Parse(await view.Content.ReadAsStringAsync()).RootElement.GetProperty("state").GetString());
    }

    [Fact]
    public async Task ConsoleLeavesTheApiRoutesToTheApi()
    {
        using var anonymous = service.Client(null);
        using var alerts = await anonymous.GetAsync(new Uri("/api/alerts", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, alerts.StatusCode);
        using var metrics = await anonymous.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, metrics.StatusCode);
        using var unknown = await anonymous.GetAsync(new Uri("/api/no-such-route", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        using var console = await anonymous.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, console.StatusCode);
        Assert.Contains("_framework/blazor.web.js", await console.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var health = await anonymous.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal("Healthy", await health.Content.ReadAsStringAsync());
    }

    /// <summary>Opens <paramref name="path"/> through the sign-in link, as the demo logs it, with a name for the history.</summary>
    private static async Task<IPage> SignedInAsync(ConsoleBrowser browser, Uri baseAddress, string key, string path = "")
    {
        var page = await browser.NewPageAsync(baseAddress);
        await page.GotoAsync("/");
        await page.EvaluateAsync("() => sessionStorage.setItem('telemetry.actor', 'agent-console')");
        await page.GotoAsync($"/{path}?key={Uri.EscapeDataString(key)}");
        return page;
    }

    private async Task InServiceAsync(string id, string batch)
    {
        await using var device = await service.DeviceAsync(id);
        var birth = $$"""{"v":1,"kind":"shoe","model":"consolerun-1","batch":"{{batch}}","firmware":"1.0","manufactured":"2026-01-10","wearer_kg":70}""";
        await device.PublishAsync($"devices/{id}/birth", Encoding.UTF8.GetBytes(birth), retain: true);
        var ts = DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeMilliseconds();
        await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$$"""{"v":1,"boot":"q","seq":0,"readings":[{"ts":{{{ts}}},"m":{"distance_m":8000}}]}""")));
    }

    /// <summary>Where the queue's screenshot goes: <c>TELEMETRY_CONSOLE_SCREENSHOT</c> (docs/console.png when refreshing
    /// the README's picture), otherwise next to the test assembly.</summary>
    private static string ScreenshotPath() =>
        Environment.GetEnvironmentVariable("TELEMETRY_CONSOLE_SCREENSHOT") is { Length: > 0 } path ? path : Path.Combine(AppContext.BaseDirectory, "console.png");
}
