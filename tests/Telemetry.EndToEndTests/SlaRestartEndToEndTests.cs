using System.Globalization;
using System.Text;
using System.Text.Json;
using MQTTnet.Formatter;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>A critical alert nobody answers escalates after 2 h, even when the service restarts in between.</summary>
public sealed class SlaRestartEndToEndTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public async Task UnansweredCriticalAlert_EscalatesAfterTwoHours_AcrossARestart()
    {
        const string id = "shoe-sla-critical";
        var alertId = await RaiseReplaceNowAsync(id);
        var raisedAt = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/alerts/{alertId}", UriKind.Relative)))
            .RootElement.GetProperty("raised_at").GetDateTimeOffset();

        await service.RestartAsync();
        await using var watcher = await service.WatcherAsync("sla-critical-watcher", MqttProtocolVersion.V500, $"alerts/{id}");
        service.SlaClock.Advance(raisedAt + TimeSpan.FromHours(2) + TimeSpan.FromMinutes(1) - service.SlaClock.GetUtcNow());

        var escalated = await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "escalated", "escalation after the restart");
        Assert.Equal((alertId, "critical"), (escalated.GetProperty("id").GetString(), escalated.GetProperty("severity").GetString()));
        Assert.Contains("2 h first-response SLA for critical alerts", escalated.GetProperty("note").GetString(), StringComparison.Ordinal);
        var view = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/alerts/{alertId}", UriKind.Relative))).RootElement;
        Assert.Equal("escalated", view.GetProperty("state").GetString());
        Assert.Equal(1, (await service.WaitForJsonAsync("/api/ingest/stats", s => s.GetProperty("alerts_escalated").GetInt64() >= 1, "the escalation count"))
            .GetProperty("alerts_escalated").GetInt64());
    }

    /// <summary>Runs a shoe far enough (25 days of 45 km) that its cushioning falls below 60%: replace now, critical.</summary>
    private async Task<string> RaiseReplaceNowAsync(string id)
    {
        await using var watcher = await service.WatcherAsync("sla-critical-raise", MqttProtocolVersion.V500, $"alerts/{id}");
        await using var device = await service.DeviceAsync(id);
        await device.PublishAsync($"devices/{id}/birth", TestDevice.Vector("valid/birth-shoe.json"), retain: true);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var readings = string.Join(',', Enumerable.Range(0, 25).Select(i => string.Create(CultureInfo.InvariantCulture,
            $$$"""{"ts":{{{now - ((25 - i) * 86_400_000L)}}},"m":{"distance_m":45000}}""")));
        await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"x","seq":0,"readings":[{{readings}}]}"""));
        var raised = await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("code").GetString() == "shoe.cushioning.replace_now" && a.GetProperty("state").GetString() == "raised", "a critical alert");
        return raised.GetProperty("id").GetString()!;
    }
}
