using System.Text.Json;
using Xunit;

namespace Telemetry.EndToEndTests;

public sealed class SimulationEndToEndTests(SimulationFixture service) : IClassFixture<SimulationFixture>
{
    [Fact]
    public async Task SimulatedFleet_ReachesTwinsThroughTheBrokerWithoutASingleRejection()
    {
        var band = await service.WaitForJsonAsync("/api/devices/band-00002",
            t => t.TryGetProperty("wear", out var wear) && wear.TryGetProperty("battery_health_pct", out _),
            "a battery estimate for the simulated band");
        var shoe = await service.WaitForJsonAsync("/api/devices/shoe-00001",
            t => t.GetProperty("totals").GetProperty("distance_km").GetDouble() > 20,
            "20 km on the simulated shoe");

        Assert.Equal("band", band.GetProperty("birth").GetProperty("kind").GetString());
        Assert.NotEmpty(band.GetProperty("acked").EnumerateArray());
        Assert.InRange(shoe.GetProperty("wear").GetProperty("cushioning_pct").GetDouble(), 40, 100);

        var stats = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri("/api/ingest/stats", UriKind.Relative))).RootElement;
        Assert.All(stats.GetProperty("rejections").EnumerateObject(), r => Assert.Equal(0, r.Value.GetInt64()));
        Assert.True(stats.GetProperty("readings").GetInt64() > 100);
    }

    [Fact]
    public async Task InTheDemo_PlainMosquittoSubStyleClient_ReadsAlertsButNothingElse()
    {
        // As `mosquitto_sub -t 'alerts/#'`: MQTT 3.1.1, no client id, no credentials. The demo (--simulate on a
        // loopback broker) admits it as a read-only consumer; without --simulate it is refused (UplinkEndToEndTests).
        await using var watcher = await TestDevice.ConnectAsync(service.MqttPort, string.Empty, MQTTnet.Formatter.MqttProtocolVersion.V311, null,
            "alerts/#", "devices/#");

        Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, watcher.ConnectResult);
        Assert.Equal(MQTTnet.MqttClientSubscribeResultCode.GrantedQoS1, watcher.SubscribeResults[0]);
        Assert.Equal(MQTTnet.MqttClientSubscribeResultCode.UnspecifiedError, watcher.SubscribeResults[1]);

        // A device of the demo crosses a threshold: four 45 km outings take a shoe just under 70% cushioning.
        const string id = "shoe-demo-watch";
        await service.CrossCushioningThresholdAsync(id);

        while (true)
        {
            var alert = await watcher.ReceiveAsync("an alert");
            Assert.StartsWith("alerts/", alert.Topic, StringComparison.Ordinal);
            if (alert.Topic == $"alerts/{id}")
            {
                break;
            }
        }
    }
}
