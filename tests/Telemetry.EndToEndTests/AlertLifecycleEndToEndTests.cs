using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MQTTnet.Formatter;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>Alerts as cases: acknowledged and resolved over HTTP, each change on MQTT with the same id.</summary>
public sealed class AlertLifecycleEndToEndTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public async Task AlertIsAcknowledgedThenResolved_OverHttp_WithEachChangeOnMqttAndInItsHistory()
    {
        const string id = "shoe-life-1";
        await using var watcher = await service.WatcherAsync("life-watcher", MqttProtocolVersion.V500, $"alerts/{id}");
        var raised = await RaiseAsync(id, watcher);
        var alertId = raised.GetProperty("id").GetString()!;

        using (var anonymous = service.Client(null))
        using (var noKey = await anonymous.PostAsJsonAsync($"/api/alerts/{alertId}/ack", new { actor = "agent-7" }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        }

        var acked = await PostAsync($"/api/alerts/{alertId}/ack", new { actor = "agent-7", note = "called the runner" }, HttpStatusCode.OK);
        Assert.Equal("acknowledged", acked.GetProperty("state").GetString());
        var ackEvent = await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "acknowledged", "acknowledged event");
        Assert.Equal((alertId, "agent-7", "called the runner"),
            (ackEvent.GetProperty("id").GetString(), ackEvent.GetProperty("actor").GetString(), ackEvent.GetProperty("note").GetString()));

        var resolved = await PostAsync($"/api/alerts/{alertId}/resolve", new { actor = "agent-7", note = "new pair sent" }, HttpStatusCode.OK);
        Assert.Equal("resolved", resolved.GetProperty("state").GetString());
        await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "resolved" && a.GetProperty("id").GetString() == alertId, "resolved event");

        var view = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/alerts/{alertId}", UriKind.Relative))).RootElement;
        Assert.Equal(["raised", "acknowledged", "resolved"], view.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("state").GetString()));
        Assert.Equal(["system", "agent-7", "agent-7"], view.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("actor").GetString()));
        Assert.Equal("shoe.cushioning.replace_soon", view.GetProperty("code").GetString());

        // A resolved alert cannot be acknowledged again.
        await PostAsync($"/api/alerts/{alertId}/ack", new { actor = "agent-8" }, HttpStatusCode.Conflict);

        using var listed = await service.Http.GetAsync(new Uri($"/api/alerts?device={id}&state=resolved", UriKind.Relative));
        var items = JsonDocument.Parse(await listed.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(alertId, Assert.Single(items.EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal("1", listed.Headers.GetValues("X-Total-Count").Single());
    }

    [Fact]
    public async Task ReplacingTheShoe_ResolvesItsAlertAndRestartsItsWear()
    {
        const string id = "shoe-life-2";
        await using var watcher = await service.WatcherAsync("life-watcher-2", MqttProtocolVersion.V500, $"alerts/{id}");
        var alertId = (await RaiseAsync(id, watcher)).GetProperty("id").GetString()!;

        var answer = await PostAsync($"/api/devices/{id}/service", new { action = "replaced", part = "shoe", actor = "shop-12" }, HttpStatusCode.OK);

        Assert.Equal(alertId, Assert.Single(answer.GetProperty("resolved_alerts").EnumerateArray()).GetString());
        var resolved = await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "resolved", "resolution by replacement");
        Assert.Equal(("shop-12", alertId), (resolved.GetProperty("actor").GetString(), resolved.GetProperty("id").GetString()));
        var twin = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/devices/{id}", UriKind.Relative))).RootElement;
        Assert.Equal(0, twin.GetProperty("totals").GetProperty("distance_km").GetDouble());
        Assert.Empty(twin.GetProperty("open_alerts").EnumerateArray());
    }

    [Fact]
    public async Task WhenTheConditionChanges_TheSystemResolvesTheOpenAlert_AndRaisesTheNextOne()
    {
        const string id = "shoe-life-auto";
        await using var watcher = await service.WatcherAsync("life-watcher-auto", MqttProtocolVersion.V500, $"alerts/{id}");
        var soon = (await RaiseAsync(id, watcher)).GetProperty("id").GetString()!;
        await using var device = await service.DeviceAsync(id);
        var start = DateTimeOffset.UtcNow.AddDays(-28).ToUnixTimeMilliseconds();
        var readings = string.Join(',', Enumerable.Range(0, 21).Select(i => string.Create(CultureInfo.InvariantCulture,
            $$$"""{"ts":{{{start + (i * 3_600_000L)}}},"m":{"distance_m":45000}}""")));

        await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"x","seq":1,"readings":[{{readings}}]}"""));

        var resolved = await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "resolved", "the warning resolved");
        Assert.Equal(soon, resolved.GetProperty("id").GetString());
        var now = await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "raised", "the critical alert");
        Assert.Equal(("shoe.cushioning.replace_now", "critical"), (now.GetProperty("code").GetString(), now.GetProperty("severity").GetString()));
        var view = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/alerts/{soon}", UriKind.Relative))).RootElement;
        Assert.Equal([("raised", "system"), ("resolved", "system")],
            view.GetProperty("history").EnumerateArray().Select(h => (h.GetProperty("state").GetString(), h.GetProperty("actor").GetString())));
        var twin = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/devices/{id}", UriKind.Relative))).RootElement;
        Assert.Equal(now.GetProperty("id").GetString(), Assert.Single(twin.GetProperty("open_alerts").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task ABirthWithANewShoeSerial_ResolvesTheAlertAndRestartsTheWear_WhileTheFirstSerialIsOnlyRecorded()
    {
        const string id = "shoe-life-birth";
        await using var watcher = await service.WatcherAsync("life-watcher-birth", MqttProtocolVersion.V500, $"alerts/{id}");
        var alertId = (await RaiseAsync(id, watcher)).GetProperty("id").GetString()!;
        await using var device = await service.DeviceAsync(id);

        await device.PublishAsync($"devices/{id}/birth", Birth("AR3-0001"), retain: true);
        await service.WaitForJsonAsync($"/api/devices/{id}", t => t.GetProperty("birth").TryGetProperty("parts", out var p) && p.GetProperty("shoe").GetString() == "AR3-0001", "the first serial");
        var twin = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/devices/{id}", UriKind.Relative))).RootElement;
        Assert.Equal(alertId, Assert.Single(twin.GetProperty("open_alerts").EnumerateArray()).GetProperty("id").GetString());

        await device.PublishAsync($"devices/{id}/birth", Birth("AR3-0002"), retain: true);

        var resolved = await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "resolved", "resolution by a new serial");
        Assert.Equal((alertId, "device"), (resolved.GetProperty("id").GetString(), resolved.GetProperty("actor").GetString()));
        Assert.Contains("AR3-0002", resolved.GetProperty("note").GetString(), StringComparison.Ordinal);
        twin = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/devices/{id}", UriKind.Relative))).RootElement;
        Assert.Equal(0, twin.GetProperty("totals").GetProperty("distance_km").GetDouble());
        Assert.Empty(twin.GetProperty("open_alerts").EnumerateArray());

        static byte[] Birth(string serial) => Encoding.UTF8.GetBytes(
            $$$"""{"v":1,"kind":"shoe","model":"aerorun-3","batch":"2025w28-sz2","firmware":"1.4.2","manufactured":"2025-07-14","wearer_kg":72,"parts":{"shoe":"{{{serial}}}"}}""");
    }

    [Theory]
    [InlineData("{\"action\":\"replaced\",\"part\":\"laces\"}", HttpStatusCode.BadRequest)]
    [InlineData("{\"action\":\"repaired\",\"part\":\"shoe\"}", HttpStatusCode.BadRequest)]
    public async Task ServiceEvent_WithAnUnknownPartOrAction_Is400(string body, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/devices/shoe-e2e-1/service", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Api-Key", ServiceFixture.ApiKey);
        using var response = await service.Http.SendAsync(request);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task ServiceEvent_ForAnUnknownDevice_Is404_AndWithoutAKey_Is401()
    {
        await PostAsync("/api/devices/never-seen-device/service", new { action = "replaced", part = "band" }, HttpStatusCode.NotFound);
        using var anonymous = service.Client(null);
        using var noKey = await anonymous.PostAsJsonAsync("/api/devices/shoe-e2e-1/service", new { action = "replaced", part = "shoe" });
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
    }

    [Fact]
    public async Task AlertExport_HasEveryAlert_InCsvAndInParquet()
    {
        const string id = "shoe-life-3";
        await using var watcher = await service.WatcherAsync("life-watcher-3", MqttProtocolVersion.V500, $"alerts/{id}");
        var alertId = (await RaiseAsync(id, watcher)).GetProperty("id").GetString()!;

        using var csv = await service.Http.SendAsync(Authorized($"/api/alerts/export?format=csv"));
        var lines = (await csv.Content.ReadAsStringAsync()).Split('\n');
        Assert.Equal("id,device,kind,model,batch,code,severity,state,raised_at,updated_at,message", lines[0]);
        Assert.Contains(lines, l => l.StartsWith($"{alertId},{id},shoe,aerorun-3,2025w28-sz2,shoe.cushioning.replace_soon,warning,raised,", StringComparison.Ordinal));

        using var parquet = await service.Http.SendAsync(Authorized($"/api/alerts/export?format=parquet"));
        var read = IndependentParquetReader.Read(await parquet.Content.ReadAsByteArrayAsync());
        var row = read.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("id").GetString() == alertId);
        Assert.Equal(("shoe.cushioning.replace_soon", "raised"), (row.GetProperty("code").GetString(), row.GetProperty("state").GetString()));
        Assert.Equal("TIMESTAMP", read.GetProperty("schema").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "raised_at").GetProperty("logical").GetString());

        using var badFormat = await service.Http.SendAsync(Authorized("/api/alerts/export?format=xlsx"));
        Assert.Equal(HttpStatusCode.BadRequest, badFormat.StatusCode);
    }

    [Fact]
    public async Task ExportCommand_WritesTheSameExportToAFile()
    {
        const string id = "shoe-life-4";
        await using var watcher = await service.WatcherAsync("life-watcher-4", MqttProtocolVersion.V500, $"alerts/{id}");
        var alertId = (await RaiseAsync(id, watcher)).GetProperty("id").GetString()!;
        var file = Path.GetTempFileName();
        try
        {
            var output = new StringWriter();
            var code = await Ingest.Api.ExportCommand.RunAsync(
                ["alerts", "--format", "csv", "--out", file, "--url", service.BaseAddress.ToString(), "--api-key", ServiceFixture.ApiKey], output, new StringWriter());

            Assert.Equal(0, code);
            Assert.Contains(File.ReadLines(file), l => l.StartsWith(alertId + ",", StringComparison.Ordinal));
            Assert.StartsWith("wrote ", output.ToString(), StringComparison.Ordinal);
            Assert.Equal(1, await Ingest.Api.ExportCommand.RunAsync(
                ["alerts", "--format", "csv", "--out", file, "--url", service.BaseAddress.ToString(), "--api-key", "wrong"], new StringWriter(), new StringWriter()));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static HttpRequestMessage Authorized(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Add("X-Api-Key", ServiceFixture.ApiKey);
        return request;
    }

    [Theory]
    [InlineData("/api/alerts?state=bogus", "state must be")]
    [InlineData("/api/alerts?severity=urgent", "severity must be")]
    [InlineData("/api/alerts?limit=0", "limit must be")]
    [InlineData("/api/alerts?device=not%20an%20id", "device must match")]
    [InlineData("/api/alerts?code=DROP%20TABLE", "code must look like")]
    public async Task BadFilters_Are400WithTheReason(string path, string reason)
    {
        using var response = await service.Http.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(reason, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownAlert_Is404_ForReadingAndForChanging()
    {
        using var get = await service.Http.GetAsync(new Uri("/api/alerts/01NOSUCHALERT", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        await PostAsync("/api/alerts/01NOSUCHALERT/resolve", new { actor = "agent-1" }, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ChangeWithoutAnActor_Is400()
    {
        await PostAsync("/api/alerts/01ANY/ack", new { note = "who am I" }, HttpStatusCode.BadRequest);
    }

    /// <summary>A shoe born with <c>"locale":"zh-CN"</c> gets its alert in Chinese on MQTT and in the API, with the
    /// same language-neutral evidence an English one has.</summary>
    [Fact]
    public async Task AShoeBornInChinese_GetsItsAlertInChinese_OnMqttAndInTheApi()
    {
        const string id = "shoe-life-zh";
        await using var watcher = await service.WatcherAsync("life-watcher-zh", MqttProtocolVersion.V500, $"alerts/{id}");
        await service.CrossCushioningThresholdAsync(id, "valid/birth-shoe-zh-cn.json");
        var raised = await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "raised", "raised alert");

        var message = raised.GetProperty("message").GetString()!;
        Assert.Equal("shoe.cushioning.replace_soon", raised.GetProperty("code").GetString());
        Assert.StartsWith("缓震性能约为新鞋的", message, StringComparison.Ordinal);
        Assert.DoesNotContain(message, char.IsAsciiLetter);
        Assert.InRange(raised.GetProperty("evidence").GetProperty("cushioning_pct").GetDouble(), 60, 70);

        var view = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/alerts/{raised.GetProperty("id").GetString()}", UriKind.Relative))).RootElement;
        Assert.Equal(message, view.GetProperty("message").GetString());
        var twin = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/devices/{id}", UriKind.Relative))).RootElement;
        Assert.Equal("zh-CN", twin.GetProperty("birth").GetProperty("locale").GetString());
    }

    private async Task<JsonElement> RaiseAsync(string id, TestDevice watcher)
    {
        await service.CrossCushioningThresholdAsync(id);
        return await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "raised", "raised alert");
    }

    private async Task<JsonElement> PostAsync(string path, object body, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Api-Key", ServiceFixture.ApiKey);
        using var response = await service.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement;
    }
}
