using System.Net;
using System.Text.Json;

namespace Telemetry.IntegrationTests;

/// <summary>
/// Prometheus (Debian's prometheus) scraping one target every second with a Bearer key, as
/// deploy/prometheus/prometheus.yml scrapes the service in docker-compose, its data under a temporary directory.
/// </summary>
public sealed class PrometheusServer : ServerProcess
{
    private readonly HttpClient _http = new();

    public PrometheusServer(int targetPort, string bearerKey)
        : base("prometheus")
    {
        File.WriteAllText(Path.Combine(Directory, "key"), bearerKey);
        File.WriteAllText(Path.Combine(Directory, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: telemetry
                metrics_path: /metrics
                authorization:
                  type: Bearer
                  credentials_file: {Path.Combine(Directory, "key")}
                static_configs:
                  - targets: ["127.0.0.1:{targetPort}"]
            """);
        _http.BaseAddress = new Uri($"http://127.0.0.1:{Port}/");
    }

    public int Port { get; } = FreePort();

    protected override (string File, IReadOnlyList<string> Args) Command() => ("prometheus",
    [
        $"--config.file={Path.Combine(Directory, "prometheus.yml")}",
        $"--storage.tsdb.path={Path.Combine(Directory, "data")}",
        $"--web.listen-address=127.0.0.1:{Port}",
    ]);

    protected override async Task<bool> IsReadyAsync()
    {
        try
        {
            using var response = await _http.GetAsync(new Uri("-/ready", UriKind.Relative));
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>Evaluates <paramref name="promQl"/> now: the status ("success" or "error"), the error if any, and the
    /// result's series.</summary>
    public async Task<(string Status, string? Error, JsonElement[] Series)> QueryAsync(string promQl)
    {
        using var response = await _http.GetAsync(new Uri($"api/v1/query?query={Uri.EscapeDataString(promQl)}", UriKind.Relative));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var status = json.GetProperty("status").GetString()!;
        return status == "success"
            ? (status, null, [.. json.GetProperty("data").GetProperty("result").EnumerateArray()])
            : (status, json.GetProperty("error").GetString(), []);
    }
}
