using System.Text.Json;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>The twin is kept in the SQLite store under the data directory and survives a restart.</summary>
public sealed class RestartEndToEndTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public async Task Twin_IsUnchangedAfterARestart_AndAResendIsStillADuplicate()
    {
        const string id = "shoe-restart-1";
        var payload = TestDevice.Vector("valid/telemetry-shoe-run.json");
        await using (var device = await service.DeviceAsync(id, $"devices/{id}/ack"))
        {
            await device.PublishAsync($"devices/{id}/birth", TestDevice.Vector("valid/birth-shoe.json"), retain: true);
            await device.PublishAsync($"devices/{id}/telemetry", payload);
            await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0");
        }

        var before = await TwinAsync(id);
        await service.RestartAsync();
        var after = await TwinAsync(id);

        Assert.Equal(Strip(before), Strip(after));
        Assert.Equal(5.0123, after.GetProperty("totals").GetProperty("distance_km").GetDouble(), 6);

        // The last acked (boot, seq) survived too: the same message again is a duplicate, acked but not applied.
        await using var again = await service.DeviceAsync(id, $"devices/{id}/ack");
        await again.PublishAsync($"devices/{id}/telemetry", payload);
        await again.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of the resend");
        var totals = (await TwinAsync(id)).GetProperty("totals");
        Assert.Equal(5.0123, totals.GetProperty("distance_km").GetDouble(), 6);
        Assert.Equal(1, totals.GetProperty("duplicate_messages").GetInt64());
    }

    private async Task<JsonElement> TwinAsync(string id) =>
        JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/devices/{id}", UriKind.Relative))).RootElement;

    /// <summary>The twin without the connection-dependent last_seen, which a reconnect may move.</summary>
    private static string Strip(JsonElement twin)
    {
        var copy = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(twin.GetRawText())!;
        copy.Remove("last_seen");
        return JsonSerializer.Serialize(copy);
    }
}
