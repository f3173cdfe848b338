using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// Alone, because OpenTelemetry listens to every meter of a name in the process: a service started by a test running
/// at the same time would add its readings to this one's <c>/metrics</c>. One process runs one service in production.
/// </summary>
[CollectionDefinition(nameof(MetricsScrapes), DisableParallelization = true)]
public sealed class MetricsScrapes : ICollectionFixture<ServiceFixture>;

/// <summary><c>GET /metrics</c> as Prometheus scrapes it, against what <c>/api/ingest/stats</c> says.</summary>
[Collection(nameof(MetricsScrapes))]
public sealed partial class MetricsEndToEndTests(ServiceFixture service)
{
    [Fact]
    public async Task Scrape_CountsTheReadingsTheStatsCount_AndARejectionUnderItsReason()
    {
        const string id = "shoe-e2e-metrics";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack", $"devices/{id}/errors");
        await device.PublishAsync($"devices/{id}/birth", TestDevice.Vector("valid/birth-shoe.json"), retain: true);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // Seq 0: three readings, the second out of range (impact_g 912); seq 1: two more.
        await device.PublishAsync($"devices/{id}/telemetry", Payload(0, now, """{"steps":100}""", """{"impact_g":912}""", """{"steps":200}"""));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0");
        var error = await device.ReceiveAsync($"devices/{id}/errors", _ => true, "the rejection of reading 1");
        await device.PublishAsync($"devices/{id}/telemetry", Payload(1, now, """{"steps":300}""", """{"steps":400}"""));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 1, "ack of seq 1");

        // PUBACKs are written after the device's ack is published: wait until both messages' ack latencies are in.
        var text = await service.WaitForTextAsync("/metrics", t => Sample(t, "telemetry_ack_duration_seconds_count") >= 2, "two ack latencies") ?? string.Empty;
        var stats = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri("/api/ingest/stats", UriKind.Relative))).RootElement;

        Assert.Equal("value_out_of_range", error.GetProperty("reason").GetString());
        Assert.True(stats.GetProperty("readings").GetInt64() >= 4, $"stats count {stats.GetProperty("readings")} readings");
        Assert.Equal(stats.GetProperty("readings").GetInt64(), Sample(text, "telemetry_readings_total"));
        Assert.Equal(stats.GetProperty("messages").GetInt64(), Sample(text, "telemetry_messages_total"));
        Assert.Equal(1, stats.GetProperty("rejections").GetProperty("value_out_of_range").GetInt64());
        Assert.Equal(1, Sample(text, "telemetry_rejections_total", ("reason", "value_out_of_range"), ("level", "reading")));
        Assert.Equal(stats.GetProperty("storage").GetProperty("lines_written").GetInt64(), Sample(text, "telemetry_storage_lines_written_total"));
        Assert.Contains("# TYPE telemetry_readings_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE telemetry_ack_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.True(Sample(text, "telemetry_grain_call_duration_seconds_count", ("outcome", "ok")) >= 2, "grain calls not timed");
        Assert.True(Sample(text, "telemetry_storage_write_duration_seconds_count", ("outcome", "ok")) >= 2, "store writes not timed");
        // Orleans' and the runtime's meters come along.
        Assert.Matches(new Regex("^orleans_", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("^dotnet_gc_", RegexOptions.Multiline), text);
    }

    [Fact]
    public async Task Scrape_NeedsAReadKey_InXApiKeyOrAsABearerToken()
    {
        using var anonymous = service.Client(null);
        using var withoutKey = await anonymous.GetAsync(new Uri("/metrics", UriKind.Relative));
        using var bearer = new HttpRequestMessage(HttpMethod.Get, new Uri("/metrics", UriKind.Relative));
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ServiceFixture.ApiKey);
        using var withBearer = await anonymous.SendAsync(bearer);
        using var wrongBearer = new HttpRequestMessage(HttpMethod.Get, new Uri("/metrics", UriKind.Relative));
        wrongBearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-a-key");
        using var withWrongBearer = await anonymous.SendAsync(wrongBearer);
        using var both = new HttpRequestMessage(HttpMethod.Get, new Uri("/metrics", UriKind.Relative));
        both.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ServiceFixture.ApiKey);
        using var withBoth = await service.Http.SendAsync(both);

        Assert.Equal(HttpStatusCode.Unauthorized, withoutKey.StatusCode);
        Assert.Equal("application/problem+json", withoutKey.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, withBearer.StatusCode);
        Assert.Equal("text/plain", withBearer.Content.Headers.ContentType?.MediaType);
        Assert.Contains("# TYPE telemetry_messages_total counter", await withBearer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, withWrongBearer.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, withBoth.StatusCode);
    }

    private static byte[] Payload(uint seq, long now, params string[] metrics) => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
        $$"""{"v":1,"boot":"metrics","seq":{{seq}},"readings":[{{string.Join(',', metrics.Select((m, i) => $$"""{"ts":{{now - 60_000 + (seq * 10) + i}},"m":{{m}}}"""))}}]}"""));

    /// <summary>The sum of the samples of <paramref name="name"/> whose labels include <paramref name="labels"/>; -1 when
    /// there is none (so that a missing series fails an equality, not passes as 0).</summary>
    private static double Sample(string text, string name, params (string Name, string Value)[] labels)
    {
        double? sum = null;
        foreach (Match line in SampleLine().Matches(text))
        {
            if (line.Groups["name"].Value != name)
            {
                continue;
            }

            var present = LabelPair().Matches(line.Groups["labels"].Value).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
            if (labels.All(l => present.TryGetValue(l.Name, out var value) && value == l.Value))
            {
                sum = (sum ?? 0) + double.Parse(line.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return sum ?? -1;
    }

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)""", RegexOptions.Multiline)]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}
