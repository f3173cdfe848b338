using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// The Grafana dashboard that docker-compose provisions, checked against a real Prometheus scraping the running demo
/// with a read-only key sent as a Bearer token (as deploy/prometheus/prometheus.yml has it): every Prometheus query
/// of every panel is valid PromQL, and the panels that must show something under traffic do.
/// </summary>
public sealed partial class DashboardQueryTests : IAsyncLifetime
{
    private const string ReadKey = "dashboard-read-key-0123456789abcdef";

    /// <summary>Panels whose every query has data within a minute of a demo with 40 devices.</summary>
    private static readonly string[] PanelsWithData =
    [
        "Readings per second", "Messages per second", "Ingest rate", "Spill backlog", "Ack latency (delivery to PUBACK)",
        "Store write latency", "Open alerts by state", "CPU (cores)", "GC heap after last collection", "Orleans activations",
    ];

    private ServiceProcess _service = null!;
    private PrometheusServer _prometheus = null!;

    public async Task InitializeAsync()
    {
        var keys = Path.Combine(Path.GetTempPath(), $"telemetry-dashboard-keys-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(keys, $"{ReadKey} read\n");
        _service = new ServiceProcess(
            "--simulate", "40",
            "--Broker:Port", ServerProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Api:KeyFile", keys,
            "--Metrics:OpenAlertsInterval", "00:00:01");
        await _service.StartAsync();
        _prometheus = new PrometheusServer(_service.HttpPort, ReadKey);
        await _prometheus.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _prometheus.DisposeAsync();
        await _service.DisposeAsync();
    }

    [Fact]
    public async Task EveryPrometheusQueryOfTheDashboard_IsValid_AndThePanelsThatMustShowDataDo()
    {
        var targets = DashboardTargets().ToList();
        Assert.True(targets.Count >= 20, $"only {targets.Count} Prometheus queries found in the dashboard");
        Assert.All(PanelsWithData, title => Assert.Contains(targets, t => t.Panel == title));

        // Scraped (with the Bearer key) and rated: two samples of the readings counter, apart.
        await UntilAsync(async () => (await _prometheus.QueryAsync("sum(rate(telemetry_readings_total[1m])) > 0")).Series.Length > 0,
            "a readings rate from Prometheus' scrapes", () => _prometheus.Output);
        var scrape = await _prometheus.QueryAsync("up{job=\"telemetry\"}");
        Assert.Equal("1", Assert.Single(scrape.Series).GetProperty("value")[1].GetString());

        foreach (var (panel, expr) in targets)
        {
            var (status, error, _) = await _prometheus.QueryAsync(expr);
            Assert.True(status == "success", $"panel '{panel}': {expr}\n{error}");
        }

        foreach (var (panel, expr) in targets.Where(t => PanelsWithData.Contains(t.Panel)))
        {
            await UntilAsync(async () => (await _prometheus.QueryAsync(expr)).Series.Any(HasNumber), $"data for panel '{panel}': {expr}");
        }

        // Every series a query names is one the service exports (some only once their first event happens).
        var exported = await ExportedNamesAsync();
        foreach (var name in targets.SelectMany(t => MetricName().Matches(t.Expr).Select(m => m.Value)).Distinct())
        {
            var family = Regex.Replace(name, "_(bucket|count|sum)$", string.Empty);
            Assert.True(exported.Contains(name) || exported.Contains(family) || Documented(family), $"{name} is neither exported nor in docs/operations.md");
        }
    }

    private static bool HasNumber(JsonElement series) =>
        double.TryParse(series.GetProperty("value")[1].GetString(), System.Globalization.CultureInfo.InvariantCulture, out var v) && double.IsFinite(v);

    private async Task<HashSet<string>> ExportedNamesAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://127.0.0.1:{_service.HttpPort}/metrics"));
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ReadKey);
        using var http = new HttpClient();
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var text = await response.Content.ReadAsStringAsync();
        return [.. text.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('{', ' ')[0])];
    }

    private static bool Documented(string family) =>
        File.ReadAllText(Path.Combine(MosquittoServer.RepositoryRoot, "docs", "operations.md")).Contains($"`{family}", StringComparison.Ordinal);

    private static IEnumerable<(string Panel, string Expr)> DashboardTargets()
    {
        var path = Path.Combine(MosquittoServer.RepositoryRoot, "deploy", "grafana", "provisioning", "dashboards", "telemetry", "telemetry.json");
        var dashboard = JsonDocument.Parse(File.ReadAllText(path)).RootElement;
        foreach (var panel in dashboard.GetProperty("panels").EnumerateArray())
        {
            if (!panel.TryGetProperty("targets", out var targets))
            {
                continue;
            }

            foreach (var target in targets.EnumerateArray())
            {
                if (target.TryGetProperty("expr", out var expr) && target.GetProperty("datasource").GetProperty("uid").GetString() == "telemetry-prometheus")
                {
                    yield return (panel.GetProperty("title").GetString()!, expr.GetString()!);
                }
            }
        }
    }

    private static async Task UntilAsync(Func<Task<bool>> done, string what, Func<string>? context = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited 90 s for {what}\n{context?.Invoke()}");
            await Task.Delay(250);
        }
    }

    [GeneratedRegex(@"\b(telemetry|dotnet|orleans)_[a-z0-9_]+")]
    private static partial Regex MetricName();
}
