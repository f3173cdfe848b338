using System.Globalization;
using System.Text;
using System.Text.Json;
using MQTTnet.Formatter;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>First-response SLAs, under a clock the test moves: nothing waits for real hours.</summary>
public sealed class SlaEndToEndTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public async Task UnacknowledgedAlert_EscalatesWhenItsSlaPasses_AndAnAcknowledgedOneDoesNot()
    {
        await using var watcher = await service.WatcherAsync("sla-watcher", MqttProtocolVersion.V500, "alerts/#");
        var ignored = await RaiseAsync("shoe-sla-1", watcher);
        var answered = await RaiseAsync("shoe-sla-2", watcher);
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/api/alerts/{answered}/ack", UriKind.Relative))
        {
            Content = new StringContent("{\"actor\":\"agent-1\"}", Encoding.UTF8, "application/json"),
        })
        {
            request.Headers.Add("X-Api-Key", ServiceFixture.ApiKey);
            using var ack = await service.Http.SendAsync(request);
            ack.EnsureSuccessStatusCode();
        }

        // Warning alerts have 24 h. Move Orleans' grain clock to a minute before the deadline: nothing may happen.
        var raisedAt = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/alerts/{ignored}", UriKind.Relative)))
            .RootElement.GetProperty("raised_at").GetDateTimeOffset();
        service.SlaClock.Advance(raisedAt + TimeSpan.FromHours(24) - TimeSpan.FromMinutes(1) - service.SlaClock.GetUtcNow());
        var early = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/alerts/{ignored}", UriKind.Relative))).RootElement;
        Assert.Equal("raised", early.GetProperty("state").GetString());

        // Then past it: the grain timer armed for that deadline fires.
        service.SlaClock.Advance(TimeSpan.FromMinutes(2));

        var escalated = await watcher.ReceiveAsync("alerts/shoe-sla-1", a => a.GetProperty("state").GetString() == "escalated", "escalation");
        Assert.Equal(ignored, escalated.GetProperty("id").GetString());
        Assert.Contains("24 h first-response SLA", escalated.GetProperty("note").GetString(), StringComparison.Ordinal);
        var stats = await service.WaitForJsonAsync("/api/ingest/stats", s => s.GetProperty("alerts_escalated").GetInt64() >= 1, "an escalation count");
        Assert.Equal(1, stats.GetProperty("alerts_escalated").GetInt64());
        var other = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/alerts/{answered}", UriKind.Relative))).RootElement;
        Assert.Equal("acknowledged", other.GetProperty("state").GetString());
    }

    private async Task<string> RaiseAsync(string id, TestDevice watcher)
    {
        await service.CrossCushioningThresholdAsync(id);
        var raised = await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "raised", "raised alert");
        return raised.GetProperty("id").GetString()!;
    }
}
