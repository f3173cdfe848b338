using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MQTTnet.Formatter;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>Defect rates per (model, batch, failure mode): exposure from devices, failures from after-sales events.</summary>
public sealed class QualityEndToEndTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public async Task ReturnsConcentratedInOneBatch_ElevateIt_PublishRetained_AndExport()
    {
        await using var watcher = await service.WatcherAsync("quality-watcher", MqttProtocolVersion.V500, "quality/#");
        // Counted from now: the class's other tests send messages to the same service.
        var before = (await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "the stats")).GetProperty("messages").GetInt64();
        for (var i = 0; i < 40; i++)
        {
            await InServiceAsync($"q-good-{i:D2}", "2026w10-good");
            await InServiceAsync($"q-bad-{i:D2}", "2026w11-bad");
        }

        await service.WaitForJsonAsync("/api/ingest/stats", s => s.GetProperty("messages").GetInt64() >= before + 80, "80 devices in service");
        // Exposure reaches the quality view one-way after each device's round: wait until all 80 count.
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(30); ;)
        {
            using var r = await service.Http.SendAsync(Authorized(HttpMethod.Get, "/api/quality/defect-rates?model=qualrun-1&failure_mode=delamination"));
            var rows = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
            if (rows.EnumerateArray().Sum(x => x.GetProperty("devices").GetInt64()) >= 80)
            {
                break;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, "the quality view never counted the 80 devices");
            await Task.Delay(50);
        }

        // Six returns for sole delamination in the bad batch, one in the good batch.
        foreach (var device in Enumerable.Range(0, 6).Select(i => $"q-bad-{i:D2}").Append("q-good-00"))
        {
            var batch = device.StartsWith("q-bad", StringComparison.Ordinal) ? "2026w11-bad" : "2026w10-good";
            using var posted = await service.Http.SendAsync(Authorized(HttpMethod.Post, "/api/quality/events",
                new { device, model = "qualrun-1", batch, failure_mode = "delamination", kind = "return" }));
            Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        }

        var signal = await watcher.ReceiveAsync("quality/qualrun-1/2026w11-bad", q => q.GetProperty("status").GetString() == "elevated", "an elevated batch");
        Assert.Equal("2026w11-bad", signal.GetProperty("batch").GetString());

        using var json = await service.Http.SendAsync(Authorized(HttpMethod.Get, "/api/quality/defect-rates?model=qualrun-1&failure_mode=delamination"));
        var all = JsonDocument.Parse(await json.Content.ReadAsStringAsync()).RootElement.EnumerateArray().ToList();
        var bad = all.Single(r => r.GetProperty("batch").GetString() == "2026w11-bad");
        var good = all.Single(r => r.GetProperty("batch").GetString() == "2026w10-good");
        Assert.Equal((40, 6, "elevated"), (bad.GetProperty("devices").GetInt64(), bad.GetProperty("failures").GetInt64(), bad.GetProperty("status").GetString()));
        Assert.Equal((40, 1, "normal"), (good.GetProperty("devices").GetInt64(), good.GetProperty("failures").GetInt64(), good.GetProperty("status").GetString()));
        Assert.InRange(0.15, bad.GetProperty("ci_low").GetDouble(), bad.GetProperty("ci_high").GetDouble());

        using var csv = await service.Http.SendAsync(Authorized(HttpMethod.Get, "/api/quality/defect-rates?format=csv&model=qualrun-1&failure_mode=delamination"));
        var lines = (await csv.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.Equal("model,batch,failure_mode,devices,device_days,device_km,failures,rate,ci_low,ci_high,baseline,p_value,status,first_failure_at", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("qualrun-1,2026w11-bad,delamination,40,", StringComparison.Ordinal) && l.Contains(",elevated,", StringComparison.Ordinal));

        // Parquet, read back by an independent reader (hyparquet, in JavaScript): typed columns, same values.
        using var parquet = await service.Http.SendAsync(Authorized(HttpMethod.Get, "/api/quality/defect-rates?format=parquet&model=qualrun-1&failure_mode=delamination"));
        var read = IndependentParquetReader.Read(await parquet.Content.ReadAsByteArrayAsync());
        var types = read.GetProperty("schema").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("type").GetString());
        Assert.Equal(("INT64", "DOUBLE", "BYTE_ARRAY", "INT64"), (types["devices"], types["rate"], types["status"], types["first_failure_at"]));
        Assert.Equal("TIMESTAMP", read.GetProperty("schema").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "first_failure_at").GetProperty("logical").GetString());
        var parquetBad = read.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("batch").GetString() == "2026w11-bad");
        Assert.Equal((40L, 6L, "elevated"), (parquetBad.GetProperty("devices").GetInt64(), parquetBad.GetProperty("failures").GetInt64(), parquetBad.GetProperty("status").GetString()));
        Assert.Equal(bad.GetProperty("ci_high").GetDouble(), parquetBad.GetProperty("ci_high").GetDouble());

        using var anonymous = service.Client(null);
        using var noKey = await anonymous.GetAsync(new Uri("/api/quality/defect-rates", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
    }

    [Fact]
    public async Task TimeRange_CountsTheFailuresExposureAndKilometresInsideIt_AndAlertsRaisedInsideIt()
    {
        var now = DateTimeOffset.UtcNow;
        long Ago(double days) => now.AddDays(-days).ToUnixTimeMilliseconds();
        // r-0 ran 20 and 18 days ago, r-1 3 days ago, r-2 20 and 2 days ago (one upload covering both runs).
        await RunsAsync("r-0", (Ago(20), 10_000), (Ago(18), 10_000));
        await RunsAsync("r-1", (Ago(3), 5_000));
        await RunsAsync("r-2", (Ago(20), 2_000), (Ago(2), 2_000));
        await RowAsync("", row => row.GetProperty("devices").GetInt64() == 3);
        foreach (var (device, daysAgo) in new[] { ("r-0", 19), ("r-2", 2) })
        {
            using var posted = await service.Http.SendAsync(Authorized(HttpMethod.Post, "/api/quality/events",
                new { device, model = "qualrange-1", batch = "2026w20-a", failure_mode = "delamination", kind = "warranty", at = now.AddDays(-daysAgo) }));
            Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        }

        var all = await RowAsync("", row => row.GetProperty("failures").GetInt64() == 2);
        Assert.Equal((3L, 29.0), (all.GetProperty("devices").GetInt64(), all.GetProperty("device_km").GetDouble()));

        var from = Uri.EscapeDataString(now.AddDays(-10).ToString("O", CultureInfo.InvariantCulture));
        var recent = await RowAsync($"&from={from}", _ => true);
        Assert.Equal((2L, 1L, 7.0), (recent.GetProperty("devices").GetInt64(), recent.GetProperty("failures").GetInt64(), recent.GetProperty("device_km").GetDouble()));
        Assert.Equal(now.AddDays(-2).ToUnixTimeMilliseconds(), recent.GetProperty("first_failure_at").GetDateTimeOffset().ToUnixTimeMilliseconds());

        var earlier = await RowAsync($"&to={from}", _ => true);
        Assert.Equal((2L, 1L, 22.0), (earlier.GetProperty("devices").GetInt64(), earlier.GetProperty("failures").GetInt64(), earlier.GetProperty("device_km").GetDouble()));

        foreach (var bad in new[] { "from=yesterday", $"from={from}&to={from}", "to=2026-13-01" })
        {
            using var rejected = await service.Http.SendAsync(Authorized(HttpMethod.Get, $"/api/quality/defect-rates?{bad}"));
            Assert.Equal(HttpStatusCode.BadRequest, rejected.StatusCode);
            using var rejectedAlerts = await service.Http.SendAsync(Authorized(HttpMethod.Get, $"/api/alerts/export?format=csv&{bad}"));
            Assert.Equal(HttpStatusCode.BadRequest, rejectedAlerts.StatusCode);
        }

        // Alerts by the time they were raised: one raised now is outside a window that ends an hour ago.
        await service.CrossCushioningThresholdAsync("r-alert");
        await service.WaitForJsonAsync("/api/alerts?device=r-alert", a => a.GetArrayLength() > 0, "the alert of r-alert");
        var hourAgo = Uri.EscapeDataString(now.AddHours(-1).ToString("O", CultureInfo.InvariantCulture));
        using var before = await service.Http.SendAsync(Authorized(HttpMethod.Get, $"/api/alerts/export?format=csv&to={hourAgo}"));
        Assert.DoesNotContain("r-alert", await before.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var after = await service.Http.SendAsync(Authorized(HttpMethod.Get, $"/api/alerts/export?format=csv&from={hourAgo}"));
        Assert.Contains(",r-alert,", await after.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"device":"d-1","model":"m","batch":"b","failure_mode":"delamination","kind":"complaint"}""", "kind")]
    [InlineData("""{"device":"d 1","model":"m","batch":"b","failure_mode":"delamination","kind":"return"}""", "device")]
    [InlineData("""{"device":"d-1","model":"m","batch":"b","failure_mode":"=HYPERLINK(1),x","kind":"return"}""", "failure_mode must match")]
    [InlineData("""{"device":"d-1","model":"m","batch":"b","failure_mode":"delamination","kind":"return","at":"2200-01-01T00:00:00Z"}""", "at must lie")]
    [InlineData("""{"device":"d-1","model":"m","batch":"b","kind":"return"}""", "failure_mode")]
    [InlineData("not json", "")]
    public async Task AnInvalidQualityEvent_Is400_WithTheReason_AndRecordsNothing(string body, string reason)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/quality/events", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Api-Key", ServiceFixture.ApiKey);

        using var response = await service.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(reason, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var rates = await service.Http.SendAsync(Authorized(HttpMethod.Get, "/api/quality/defect-rates?model=m"));
        Assert.Equal("[]", await rates.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ABadFailureModeFilter_Is400()
    {
        using var response = await service.Http.SendAsync(Authorized(HttpMethod.Get, "/api/quality/defect-rates?failure_mode=Bad%20Mode"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    private async Task RunsAsync(string id, params (long Ts, double Meters)[] runs)
    {
        await using var device = await service.DeviceAsync(id);
        var birth = """{"v":1,"kind":"shoe","model":"qualrange-1","batch":"2026w20-a","firmware":"1.0","manufactured":"2026-01-10","wearer_kg":70}""";
        await device.PublishAsync($"devices/{id}/birth", Encoding.UTF8.GetBytes(birth), retain: true);
        var readings = string.Join(',', runs.Select(r => string.Create(CultureInfo.InvariantCulture, $$$"""{"ts":{{{r.Ts}}},"m":{"distance_m":{{{r.Meters}}}}}""")));
        await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"q","seq":0,"readings":[{{readings}}]}"""));
    }

    /// <summary>The delamination row of qualrange-1/2026w20-a under <paramref name="range"/>, once <paramref name="ready"/> holds.</summary>
    private async Task<JsonElement> RowAsync(string range, Func<JsonElement, bool> ready)
    {
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(30); ;)
        {
            using var response = await service.Http.SendAsync(Authorized(HttpMethod.Get, $"/api/quality/defect-rates?model=qualrange-1&failure_mode=delamination{range}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var rows = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            if (rows.GetArrayLength() == 1 && ready(rows[0]))
            {
                return rows[0];
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"the defect-rate row never became ready: {rows}");
            await Task.Delay(50);
        }
    }

    private async Task InServiceAsync(string id, string batch)
    {
        await using var device = await service.DeviceAsync(id);
        var birth = $$"""{"v":1,"kind":"shoe","model":"qualrun-1","batch":"{{batch}}","firmware":"1.0","manufactured":"2026-01-10","wearer_kg":70}""";
        await device.PublishAsync($"devices/{id}/birth", Encoding.UTF8.GetBytes(birth), retain: true);
        var ts = DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeMilliseconds();
        await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$$"""{"v":1,"boot":"q","seq":0,"readings":[{"ts":{{{ts}}},"m":{"distance_m":8000}}]}""")));
    }

    private static HttpRequestMessage Authorized(HttpMethod method, string path, object? body = null)
    {
        var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        request.Headers.Add("X-Api-Key", ServiceFixture.ApiKey);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return request;
    }
}
