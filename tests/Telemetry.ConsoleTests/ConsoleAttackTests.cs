using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using MQTTnet.Formatter;
using Telemetry.EndToEndTests;
using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Console;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace Telemetry.ConsoleTests;

/// <summary>Review attacks on the operator console against the running demo (the same harness as <see cref="ConsoleTests"/>).</summary>
public sealed class ConsoleAttackTests(ConsoleFixture service) : IClassFixture<ConsoleFixture>
{
    private static readonly float Patience = 30_000;

    // ---- 1. Console auth ----

    /// <summary>A sign-in link with a wrong key must say so, and must not leave the (wrong, perhaps almost right) key in the address bar.</summary>
    [Fact]
    public async Task Attack_WrongKeyInLink_IsRefusedInWords()
    {
        var page = await service.Browser.NewPageAsync(service.BaseAddress);
        await page.GotoAsync("/?key=not-a-key-in-force");
        await Expect(page.Locator("#key")).ToBeVisibleAsync(new() { Timeout = Patience });
        await Expect(page.GetByText("No key in force matches that key.")).ToBeVisibleAsync(new() { Timeout = 5_000 });
    }

    /// <summary>The refused key of a link stays in the address bar (and so in history, bookmarks, a screenshot).</summary>
    [Fact]
    public async Task Attack_WrongKeyInLink_DoesNotStayInTheAddressBar()
    {
        var page = await service.Browser.NewPageAsync(service.BaseAddress);
        await page.GotoAsync("/?key=almost-the-right-key");
        await Expect(page.Locator("#key")).ToBeVisibleAsync(new() { Timeout = Patience });
        await Expect(page).ToHaveURLAsync(new Regex("^[^?]*$"), new() { Timeout = 5_000 });
    }

    /// <summary>After a link sign-in the key is in no rendered HTML, title, link or attribute of the page.</summary>
    [Fact]
    public async Task Attack_KeyFromLink_IsNotRenderedInThePage()
    {
        var page = await service.Browser.NewPageAsync(service.BaseAddress);
        await page.GotoAsync($"/?key={Uri.EscapeDataString(ServiceFixture.ApiKey)}");
        await Expect(page.Locator("#queue")).ToBeVisibleAsync(new() { Timeout = Patience });
        await Expect(page).ToHaveURLAsync(new Regex("^[^?]*$"), new() { Timeout = Patience });
        Assert.DoesNotContain(ServiceFixture.ApiKey, await page.ContentAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(ServiceFixture.ApiKey, await page.TitleAsync(), StringComparison.Ordinal);
    }

    /// <summary>
    /// While /?key=KEY is loading, the browser fetches blazor.web.js, Radzen's files and console.css with a Referer of the
    /// full address: the key goes to the server (and any proxy's access log) in every one of those requests. The console
    /// sets no Referrer-Policy that would stop it.
    /// </summary>
    [Fact]
    public async Task Attack_KeyFromLink_IsNotSentAsReferer()
    {
        var page = await service.Browser.NewPageAsync(service.BaseAddress);
        var leaked = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Headers.TryGetValue("referer", out var referer) && referer.Contains(ServiceFixture.ApiKey, StringComparison.Ordinal))
            {
                lock (leaked)
                {
                    leaked.Add(request.Url);
                }
            }
        };
        await page.GotoAsync($"/?key={Uri.EscapeDataString(ServiceFixture.ApiKey)}");
        await Expect(page.Locator("#queue")).ToBeVisibleAsync(new() { Timeout = Patience });
        lock (leaked)
        {
            Assert.True(leaked.Count == 0, $"the key went out as Referer of: {string.Join(", ", leaked)}");
        }
    }

    /// <summary>An operate console that any site can frame can be clickjacked into acknowledging and resolving.</summary>
    [Fact]
    public async Task Attack_ConsoleCannotBeFramedByAnotherSite()
    {
        using var anonymous = service.Client(null);
        using var response = await anonymous.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var frameOptions = response.Headers.TryGetValues("X-Frame-Options", out var f) ? string.Join(",", f) : "";
        var csp = response.Headers.TryGetValues("Content-Security-Policy", out var c) ? string.Join(",", c) : "";
        Assert.True(frameOptions.Length > 0 || csp.Contains("frame-ancestors", StringComparison.OrdinalIgnoreCase),
            "GET / sends neither X-Frame-Options nor a Content-Security-Policy with frame-ancestors");
    }

    /// <summary>What the console serves without a key: a shell, no fleet data (no server prerender), no API data under console paths.</summary>
    [Fact]
    public async Task Attack_OpenConsolePaths_ServeNoDataWithoutAKey()
    {
        const string device = "attack-shoe-1";
        await using var watcher = await service.WatcherAsync("attack-watcher-1", MqttProtocolVersion.V500, $"alerts/{device}");
        await service.CrossCushioningThresholdAsync(device);
        await watcher.ReceiveAsync($"alerts/{device}", a => a.GetProperty("state").GetString() == "raised", "raised event");

        using var anonymous = service.Client(null);
        foreach (var path in (string[])["/", $"/devices/{device}", "/quality", "/pipeline", "/console.css", "/console.js"])
        {
            using var response = await anonymous.GetAsync(new Uri(path, UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("cushioning", body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("lines_written", body, StringComparison.Ordinal);
            Assert.DoesNotContain(ServiceFixture.ApiKey, body, StringComparison.Ordinal);
        }

        // Paths that look like the console's but are the API's, or nothing, are not served by the console branch.
        foreach (var path in (string[])["/devices/x/../../api/alerts", "/_blazor/../api/alerts", "/devices/attack-shoe-1/", "/console.js/../api/ingest/stats"])
        {
            using var response = await anonymous.GetAsync(new Uri(path, UriKind.Relative));
            Assert.DoesNotContain("cushioning", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        }

        // The circuit's negotiation is open (it must be), but gives nothing of the fleet.
        using var negotiate = await anonymous.PostAsync(new Uri("/_blazor/negotiate?negotiateVersion=1", UriKind.Relative), null);
        Assert.DoesNotContain("cushioning", await negotiate.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Without a key the page offers nothing but sign-in, even after the session storage is forged with a wrong key.</summary>
    [Fact]
    public async Task Attack_ForgedSessionStorageKey_ShowsOnlySignIn()
    {
        var page = await service.Browser.NewPageAsync(service.BaseAddress);
        await page.GotoAsync("/");
        await page.EvaluateAsync("() => sessionStorage.setItem('telemetry.key', 'forged-key')");
        await page.GotoAsync("/devices/console-shoe-1");
        await Expect(page.Locator("#key")).ToBeVisibleAsync(new() { Timeout = Patience });
        await Expect(page.Locator("#twin")).ToHaveCountAsync(0);
        await Expect(page.Locator("#queue")).ToHaveCountAsync(0);
    }

    /// <summary>
    /// A read key's tab with buttons forged into the DOM (classes of the real ones): clicking them reaches no handler on
    /// the circuit, and the alert stays raised.
    /// </summary>
    [Fact]
    public async Task Attack_ReadKey_ForgedAckButtonsInTheDom_ChangeNothing()
    {
        const string device = "attack-shoe-2";
        await using var raised = await service.RaiseCushioningAlertAsync(device, "attack-watcher-2");
        var (watcher, alertId) = (raised.Watcher, raised.Id);

        var page = await service.Browser.NewPageAsync(service.BaseAddress);
        await page.GotoAsync($"/devices/{device}?key={Uri.EscapeDataString(ConsoleFixture.ReadKey)}");
        var card = page.Locator($".device-alert[data-alert='{alertId}']");
        await Expect(card).ToBeVisibleAsync(new() { Timeout = Patience });
        await Expect(card.Locator("button.ack")).ToHaveCountAsync(0);
        await card.EvaluateAsync("c => { for (const k of ['ack', 'resolve']) { const b = document.createElement('button'); b.className = 'rz-button ' + k; b.textContent = k; c.appendChild(b); } }");
        await card.Locator("button.ack").ClickAsync();
        await card.Locator("button.resolve").ClickAsync();
        await page.WaitForTimeoutAsync(1_000);

        using var view = await service.Http.GetAsync(new Uri($"/api/alerts/{alertId}", UriKind.Relative));
        Assert.Equal("raised", JsonDocument.Parse(await view.Content.ReadAsStringAsync()).RootElement.GetProperty("state").GetString());
    }

    // ---- 2. Hostile input ----

    /// <summary>Script in a note and in an actor renders as text in the device page's history, and runs nothing.</summary>
    [Fact]
    public async Task Attack_ScriptInNoteAndActor_RendersAsText()
    {
        const string device = "attack-shoe-3";
        const string note = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>";
        const string actor = "<svg onload=\"window.__xss=3\">";
        await using var raised = await service.RaiseCushioningAlertAsync(device, "attack-watcher-3");
        var (watcher, alertId) = (raised.Watcher, raised.Id);
        using var ack = await service.Http.PostAsJsonAsync($"/api/alerts/{alertId}/ack", new { actor, note });
        Assert.True(ack.IsSuccessStatusCode, $"ack: {(int)ack.StatusCode}");

        var page = await service.Browser.NewPageAsync(service.BaseAddress);
        await page.GotoAsync($"/devices/{device}?key={Uri.EscapeDataString(ServiceFixture.ApiKey)}");
        var card = page.Locator($".device-alert[data-alert='{alertId}']");
        await Expect(card).ToContainTextAsync(note, new() { Timeout = Patience });
        await Expect(card).ToContainTextAsync(actor);
        Assert.Equal(0, await card.Locator("img, script, svg[onload]").CountAsync());
        Assert.Null(await page.EvaluateAsync<int?>("() => window.__xss ?? null"));
    }

    /// <summary>Device ids with markup, path tricks or 5000 characters get the id rule in words, never a server error or markup.</summary>
    [Theory]
    [InlineData("%3Cimg%20src%3Dx%20onerror%3D%22window.__xss%3D1%22%3E")]
    [InlineData("..%2F..%2Fapi%2Falerts")]
    [InlineData("a%00b")]
    [InlineData("-leading-dash")]
    [InlineData("LONG")]
    public async Task Attack_HostileDeviceIdInThePath_IsRefusedAsText(string id)
    {
        if (id == "LONG")
        {
            id = new string('a', 5000);
        }

        using (var anonymous = service.Client(null))
        {
            using var plain = await anonymous.GetAsync(new Uri($"/devices/{id}", UriKind.Relative));
            Assert.True((int)plain.StatusCode < 500, $"status {(int)plain.StatusCode}");
            if (plain.StatusCode != HttpStatusCode.OK)
            {
                return; // refused before the console (Kestrel's 400 for a NUL, 414 for a long URL): fine
            }
        }

        var page = await service.Browser.NewPageAsync(service.BaseAddress);
        await page.GotoAsync("/");
        await page.EvaluateAsync($"k => sessionStorage.setItem('telemetry.key', k)", ServiceFixture.ApiKey);
        var response = await page.GotoAsync($"/devices/{id}");
        Assert.True(response is null || response.Status < 500, $"status {response?.Status}");
        if (response is { Status: 200 })
        {
            await Expect(page.GetByText("A device id matches")).ToBeVisibleAsync(new() { Timeout = Patience });
            Assert.Null(await page.EvaluateAsync<int?>("() => window.__xss ?? null"));
            Assert.Equal(0, await page.Locator("main img").CountAsync());
        }
    }

    /// <summary>The console's actions hold the API's limits: a note over 2000 characters, an unknown part, an unknown alert.</summary>
    [Fact]
    public async Task Attack_HugeNoteAndBadArguments_AreRefusedByTheConsoleActions_AsByTheApi()
    {
        const string device = "attack-shoe-4";
        await using var raised = await service.RaiseCushioningAlertAsync(device, "attack-watcher-4");
        var (watcher, alertId) = (raised.Watcher, raised.Id);

        using var tab = service.Services.CreateScope();
        var session = tab.ServiceProvider.GetRequiredService<ConsoleSession>();
        var actions = tab.ServiceProvider.GetRequiredService<ConsoleActions>();
        Assert.True(session.SignIn(ServiceFixture.ApiKey, new string('x', 101)));
        Assert.Equal("console", session.Actor);
        var huge = new string('n', 2001);
        Assert.NotNull(await actions.ChangeAlertAsync(alertId, AlertState.Acknowledged, huge));
        Assert.NotNull(await actions.ChangeAlertAsync(alertId, AlertState.Acknowledged, new string('n', 1_000_000)));
        Assert.NotNull(await actions.ReplacedAsync(device, "../shoe", null));
        Assert.NotNull(await actions.ChangeAlertAsync("no-such-alert", AlertState.Resolved, null));
        using var viaApi = await service.Http.PostAsJsonAsync($"/api/alerts/{alertId}/ack", new { actor = "a", note = huge });
        Assert.Equal(HttpStatusCode.BadRequest, viaApi.StatusCode);

        using var view = await service.Http.GetAsync(new Uri($"/api/alerts/{alertId}", UriKind.Relative));
        Assert.Equal("raised", JsonDocument.Parse(await view.Content.ReadAsStringAsync()).RootElement.GetProperty("state").GetString());
    }

    /// <summary>
    /// The actor is whatever the tab typed as "your name": an operate key can write "system" into the history, the name the
    /// service's own escalations and automatic resolutions carry, and nothing in the history says which key it was.
    /// </summary>
    [Fact]
    public async Task Attack_ConsoleActorCannotImpersonateTheSystem()
    {
        const string device = "attack-shoe-5";
        await using var raised = await service.RaiseCushioningAlertAsync(device, "attack-watcher-5");
        var (watcher, alertId) = (raised.Watcher, raised.Id);

        using var tab = service.Services.CreateScope();
        var session = tab.ServiceProvider.GetRequiredService<ConsoleSession>();
        var actions = tab.ServiceProvider.GetRequiredService<ConsoleActions>();
        Assert.True(session.SignIn(ServiceFixture.ApiKey, "system"));
        Assert.Null(await actions.ChangeAlertAsync(alertId, AlertState.Resolved, "recovered"));
        var resolved = await watcher.ReceiveAsync($"alerts/{device}", a => a.GetProperty("state").GetString() == "resolved", "resolved event");
        Assert.NotEqual("system", resolved.GetProperty("actor").GetString());
    }

    [Fact]
    public async Task Attack_ApiActorCannotImpersonateTheSystem()
    {
        const string device = "attack-shoe-5b";
        await using var raised = await service.RaiseCushioningAlertAsync(device, "attack-watcher-5b");
        var (watcher, alertId) = (raised.Watcher, raised.Id);

        using var ack = await service.Http.PostAsJsonAsync($"/api/alerts/{alertId}/ack", new { actor = "System", note = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, ack.StatusCode);
        Assert.Contains("reserved", await ack.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>
    /// The console's replace action takes any device id the circuit sends (the page passes its route parameter); the
    /// API's route checks the id. An id outside the device-id rule must be refused, not create a device grain.
    /// </summary>
    [Fact]
    public async Task Attack_ReplacedWithAnIdOutsideTheDeviceRule_IsRefused()
    {
        using var tab = service.Services.CreateScope();
        var session = tab.ServiceProvider.GetRequiredService<ConsoleSession>();
        var actions = tab.ServiceProvider.GetRequiredService<ConsoleActions>();
        Assert.True(session.SignIn(ServiceFixture.ApiKey, "attacker"));
        Assert.NotNull(await actions.ReplacedAsync("<script>", "shoe", null));
        Assert.NotNull(await actions.ReplacedAsync(new string('z', 10_000), "shoe", null));
    }
}

/// <summary>A service whose keys come from a key file that the tests rotate, plus an operate-only key, and a browser.</summary>
public sealed class RotationFixture : ServiceFixture
{
    public const string RotatingKey = "rotating-operator-key";
    public const string OperateOnlyKey = "operate-only-key";
    public const string FileReadKey = "file-read-key";

    public RotationFixture()
        : this(Path.Combine(Directory.CreateTempSubdirectory("telemetry-rotation-").FullName, "keys"))
    {
    }

    private RotationFixture(string keyFile)
        : base(["--Api:KeyFile", Write(keyFile, $"{RotatingKey} read,operate\n{FileReadKey} read\n"),
            "--Api:Keys:1:Key", OperateOnlyKey, "--Api:Keys:1:Scopes", "operate"]) => KeyFile = keyFile;

    public string KeyFile { get; }

    public ConsoleBrowser Browser { get; } = new();

    private static string Write(string path, string text)
    {
        File.WriteAllText(path, text);
        return path;
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Browser.StartAsync();
    }

    public override async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>Review attacks on key rotation in the console and on <c>/metrics</c>.</summary>
public sealed class RotationAttackTests(RotationFixture service) : IClassFixture<RotationFixture>
{
    private static readonly float Patience = 30_000;

    /// <summary>
    /// A tab signed in with a key that is then rotated out must stop showing the fleet within seconds (the ring reloads at
    /// once), not only when some alert of the fleet happens to change. On a quiet fleet the queue keeps showing it.
    /// </summary>
    [Fact]
    public async Task Attack_RotatedOutKey_QueueStopsShowingTheFleet_WithoutWaitingForAnAlert()
    {
        const string device = "rot-shoe-1";
        await using var raised = await service.RaiseCushioningAlertAsync(device, "rot-watcher-1");
        var (watcher, alertId) = (raised.Watcher, raised.Id);

        var page = await service.Browser.NewPageAsync(service.BaseAddress);
        await page.GotoAsync($"/?key={Uri.EscapeDataString(RotationFixture.RotatingKey)}");
        var row = page.Locator("#queue tr").Filter(new() { Has = page.Locator($"a[data-alert='{alertId}']") });
        await Expect(row).ToBeVisibleAsync(new() { Timeout = Patience });
        var devicePage = await service.Browser.NewPageAsync(service.BaseAddress);
        await devicePage.GotoAsync($"/devices/{device}?key={Uri.EscapeDataString(RotationFixture.RotatingKey)}");
        await Expect(devicePage.Locator("#twin")).ToBeVisibleAsync(new() { Timeout = Patience });
        using var tab = service.Services.CreateScope();
        var session = tab.ServiceProvider.GetRequiredService<ConsoleSession>();
        Assert.True(session.SignIn(RotationFixture.RotatingKey, "rotating-agent"));

        var ring = service.Services.GetRequiredService<ApiKeyRing>();
        var reloaded = ring.NextReload;
        await File.WriteAllTextAsync(service.KeyFile, $"{RotationFixture.FileReadKey} read\n");
        await reloaded.WaitAsync(TimeSpan.FromSeconds(30));
        using (var client = service.Client(RotationFixture.RotatingKey))
        {
            using var refused = await client.GetAsync(new Uri("/api/alerts", UriKind.Relative));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        // An action with the rotated key is refused at once (as claimed) ...
        await Assert.ThrowsAsync<ScopeRequiredException>(() => tab.ServiceProvider.GetRequiredService<ConsoleActions>()
            .ChangeAlertAsync(alertId, AlertState.Acknowledged, null));

        // ... but the open tabs keep showing the fleet: the queue until some alert changes, the device page until one of
        // its own alerts does. Give them 10 s.
        await page.WaitForTimeoutAsync(10_000);
        var stale = new List<string>();
        if (await row.CountAsync() > 0)
        {
            stale.Add("the alert queue still lists the alert");
        }

        if (await devicePage.Locator("#twin").CountAsync() > 0)
        {
            stale.Add("the device page still shows the twin");
        }

        Assert.True(stale.Count == 0, $"10 s after the key was rotated out: {string.Join("; ", stale)}");
    }

    [Fact]
    public async Task Attack_Metrics_KeyWithoutRead_IsForbidden_InEitherHeader()
    {
        using var header = service.Client(RotationFixture.OperateOnlyKey);
        using var viaHeader = await header.GetAsync(new Uri("/metrics", UriKind.Relative));
        using var anonymous = service.Client(null);
        using var bearer = new HttpRequestMessage(HttpMethod.Get, new Uri("/metrics", UriKind.Relative));
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", RotationFixture.OperateOnlyKey);
        using var viaBearer = await anonymous.SendAsync(bearer);
        Assert.Equal(HttpStatusCode.Forbidden, viaHeader.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, viaBearer.StatusCode);
        Assert.DoesNotContain("telemetry_", await viaBearer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Attack_Metrics_KeysInBothHeaders_OrTwoBearers_OrAWrongKey_AreRefused()
    {
        using var anonymous = service.Client(null);
        async Task<HttpStatusCode> SendAsync(Action<HttpRequestMessage> setup)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/metrics", UriKind.Relative));
            setup(request);
            using var response = await anonymous.SendAsync(request);
            return response.StatusCode;
        }

        // A read key as X-Api-Key and an operate-only key as Bearer (and the other way round).
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(r => { r.Headers.Add("X-Api-Key", RotationFixture.FileReadKey); r.Headers.TryAddWithoutValidation("Authorization", $"Bearer {RotationFixture.OperateOnlyKey}"); }));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(r => { r.Headers.Add("X-Api-Key", RotationFixture.OperateOnlyKey); r.Headers.TryAddWithoutValidation("Authorization", $"Bearer {RotationFixture.FileReadKey}"); }));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(r => r.Headers.TryAddWithoutValidation("Authorization", new[] { $"Bearer {RotationFixture.FileReadKey}", $"Bearer {RotationFixture.FileReadKey}" })));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer ")));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer not-a-key")));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(r => r.Headers.Add("X-Api-Key", "not-a-key")));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(r => r.Headers.Add("X-Api-Key", $"{RotationFixture.FileReadKey},{RotationFixture.FileReadKey}")));
        // A Basic header is not a key: with nothing else, the request is anonymous.
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(r => r.Headers.TryAddWithoutValidation("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"x:{RotationFixture.FileReadKey}")))));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(r => r.Headers.TryAddWithoutValidation("Authorization", $"bearer {RotationFixture.FileReadKey}")));
    }

    /// <summary>
    /// Nothing a device or an HTTP client chooses (device ids, topics, metric names, paths, alert ids) becomes a label value
    /// in <c>/metrics</c>: each would be a new time series in Prometheus.
    /// </summary>
    [Fact]
    public async Task Attack_Metrics_AttackerChosenStringsDoNotBecomeLabelValues()
    {
        var marker = "zq" + Guid.NewGuid().ToString("N")[..10];
        await using (var device = await service.DeviceAsync($"{marker}-dev"))
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await device.PublishAsync($"devices/{marker}-dev/telemetry", Encoding.UTF8.GetBytes($$$"""{"v":1,"boot":"{{{marker}}}","seq":0,"readings":[{"ts":{{{now - 1000}}},"m":{"{{{marker}}}_metric":1}}]}"""));
            await device.PublishAsync($"devices/{marker}-dev/{marker}-topic", Encoding.UTF8.GetBytes("{}"));
            await device.PublishAsync($"devices/{marker}-other/telemetry", Encoding.UTF8.GetBytes("{}"));
            await device.PublishAsync($"devices/{marker}-dev/telemetry", Encoding.UTF8.GetBytes($"{{\"v\":\"{marker}\"}}"));
        }

        using var anonymous = service.Client(null);
        foreach (var path in (string[])[$"/api/alerts/{marker}", $"/devices/{marker}", $"/api/{marker}", $"/_content/{marker}.js", $"/{marker}"])
        {
            using var _ = await anonymous.GetAsync(new Uri(path, UriKind.Relative));
            using var __ = await service.Http.GetAsync(new Uri(path, UriKind.Relative));
        }

        await Task.Delay(1_500);
        using var scrape = await service.Http.GetAsync(new Uri("/metrics", UriKind.Relative));
        var text = await scrape.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        var lines = text.Split('\n').Where(l => l.Contains(marker, StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count == 0, $"attacker-chosen values in /metrics: {string.Join(" | ", lines.Take(5))}");
    }
}
