using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Telemetry.IntegrationTests;

/// <summary>InfluxDB 1.x (Debian's influxd) with its data under a temporary directory.</summary>
public sealed class InfluxServer : ServerProcess
{
    private readonly HttpClient _http = new();

    public InfluxServer(string? extraHttpConfig = null)
        : base("influx")
    {
        var rpc = FreePort();
        File.WriteAllText(Path.Combine(Directory, "influxdb.conf"), $"""
            reporting-disabled = true
            bind-address = "127.0.0.1:{rpc}"
            [meta]
              dir = "{Directory}/meta"
            [data]
              dir = "{Directory}/data"
              wal-dir = "{Directory}/wal"
              query-log-enabled = false
            [monitor]
              store-enabled = false
            [http]
              bind-address = "127.0.0.1:{Port}"
              log-enabled = false
              {extraHttpConfig}
            [continuous_queries]
              enabled = false
            """);
        _http.BaseAddress = Url;
    }

    public int Port { get; } = FreePort();

    public Uri Url => new($"http://127.0.0.1:{Port}/");

    protected override (string File, IReadOnlyList<string> Args) Command() => ("influxd", ["-config", Path.Combine(Directory, "influxdb.conf")]);

    protected override async Task<bool> IsReadyAsync()
    {
        try
        {
            using var response = await _http.GetAsync(new Uri("ping", UriKind.Relative));
            return response.StatusCode == HttpStatusCode.NoContent;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public async Task CreateDatabaseAsync(string database)
    {
        using var response = await _http.PostAsync(new Uri("query", UriKind.Relative), new FormUrlEncodedContent([new("q", $"CREATE DATABASE \"{database}\"")]));
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Runs InfluxQL and returns the first series' rows (empty when there are none).</summary>
    public async Task<List<JsonElement[]>> QueryAsync(string database, string influxQl)
    {
        var uri = new Uri($"query?db={Uri.EscapeDataString(database)}&epoch=ms&q={Uri.EscapeDataString(influxQl)}", UriKind.Relative);
        var json = JsonDocument.Parse(await _http.GetStringAsync(uri)).RootElement;
        var result = json.GetProperty("results")[0];
        if (result.TryGetProperty("error", out var error))
        {
            throw new InvalidOperationException($"{influxQl}: {error.GetString()}");
        }

        if (!result.TryGetProperty("series", out var series))
        {
            return [];
        }

        return [.. series.EnumerateArray().SelectMany(s => s.GetProperty("values").EnumerateArray().Select(v => v.EnumerateArray().ToArray()))];
    }

    public async Task<long> CountAsync(string database, string influxQl)
    {
        var rows = await QueryAsync(database, influxQl);
        return rows.Count == 0 ? 0 : rows[0][1].GetInt64();
    }

    public override async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await base.DisposeAsync();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"influxd on {Port}");
}
