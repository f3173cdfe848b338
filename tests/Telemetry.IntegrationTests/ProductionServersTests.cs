using System.Net;
using System.Text.Json;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>Nothing lost, nothing duplicated, nobody speaking for another device: on Mosquitto and InfluxDB.</summary>
public sealed class ProductionServersTests(ProductionServers stack) : IClassFixture<ProductionServers>
{
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(90);
    private static readonly long BaseMs = DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeMilliseconds();

    [Fact]
    public async Task InfluxStoppedForTenSecondsMidStream_EveryReadingIsStoredExactlyOnce()
    {
        var devices = await ConnectAsync("sys-out-");
        await SendRoundsAsync(devices, 10);
        // Counted from here: the class's other test may have left the service a spill file to replay after its restart.
        await stack.WaitForSpillReplayedAsync();
        var before = (await stack.Service.StatsAsync()).GetProperty("storage");
        var (spilledBefore, replayedBefore) = (before.GetProperty("lines_spilled").GetInt64(), before.GetProperty("lines_replayed").GetInt64());

        await stack.Influx.StopAsync();
        var outageEnds = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < outageEnds)
        {
            await SendRoundsAsync(devices, 1);
            await Task.Delay(250);
        }

        await stack.Influx.StartAsync();
        await SendRoundsAsync(devices, 5);
        await Task.WhenAll(devices.Select(d => d.WaitAllAckedAsync(AckTimeout, TimeSpan.FromSeconds(2))));
        await stack.WaitForSpillReplayedAsync();

        var sent = devices.Sum(d => d.ReadingsSent);
        Assert.Equal(sent, await stack.StoredAsync("sys-out-"));
        // Values round-trip: the first message of sys-out-0 carried distance_m 10..19 and steps 0, one second apart.
        var first = await stack.Influx.QueryAsync(ProductionServers.Database,
            "SELECT distance_m, steps, boot, seq FROM shoe WHERE device = 'sys-out-0' ORDER BY time LIMIT 3");
        Assert.Equal(
            [(BaseMs, 10.0, 0L, "it1", 0L), (BaseMs + 1000, 11.0, 0L, "it1", 0L), (BaseMs + 2000, 12.0, 0L, "it1", 0L)],
            first.Select(r => (r[0].GetInt64(), r[1].GetDouble(), r[2].GetInt64(), r[3].GetString(), r[4].GetInt64())));

        // Every point carries the tags from the device's birth.
        Assert.Equal(sent, await stack.Influx.CountAsync(ProductionServers.Database,
            "SELECT count(seq) FROM shoe WHERE device =~ /^sys-out-/ AND model = 'aerorun-3' AND batch = '2026w01-it'"));
        var storage = (await stack.Service.StatsAsync()).GetProperty("storage");
        var spilled = storage.GetProperty("lines_spilled").GetInt64() - spilledBefore;
        Assert.True(spilled > 0, "the outage should have sent writes to the spill file");
        Assert.Equal(spilled, storage.GetProperty("lines_replayed").GetInt64() - replayedBefore);
        await DisposeAllAsync(devices);
    }

    [Fact]
    public async Task ServiceKilledMidStream_EveryReadingIsStoredExactlyOnce_AndTwinsCountEachOnce()
    {
        var devices = await ConnectAsync("sys-kill-");
        await SendRoundsAsync(devices, 8);

        await stack.Service.StopAsync(kill: true);
        // Devices keep publishing while the service is down: Mosquitto queues for its persistent session,
        // and what the service had taken but not acked is redelivered or resent.
        await SendRoundsAsync(devices, 8);
        await stack.Service.StartAsync();
        await SendRoundsAsync(devices, 4);
        await Task.WhenAll(devices.Select(d => d.WaitAllAckedAsync(AckTimeout, TimeSpan.FromSeconds(2))));
        await stack.WaitForSpillReplayedAsync();

        Assert.Equal(devices.Sum(d => d.ReadingsSent), await stack.StoredAsync("sys-kill-"));
        foreach (var device in devices)
        {
            var twin = JsonDocument.Parse(await stack.Service.Http.GetStringAsync(new Uri($"api/devices/{device.Id}", UriKind.Relative))).RootElement;
            Assert.Equal(device.ReadingsSent, twin.GetProperty("totals").GetProperty("readings").GetInt64());
        }

        await DisposeAllAsync(devices);
    }

    [Fact]
    public async Task DevicePublishingToAnotherDevicesTopic_ThroughMosquitto_StoresNothingForTheVictim()
    {
        await using var attacker = stack.Device("sys-a");
        await attacker.ConnectAsync();

        var forged = "{\"v\":1,\"boot\":\"x\",\"seq\":0,\"readings\":[{\"ts\":" + BaseMs + ",\"m\":{\"distance_m\":1}}]}";
        await attacker.PublishRawAsync("devices/sys-b/birth", System.Text.Encoding.UTF8.GetBytes("{\"v\":1,\"kind\":\"shoe\",\"model\":\"m\",\"batch\":\"b\",\"firmware\":\"1\"}"));
        await attacker.PublishRawAsync("devices/sys-b/telemetry", System.Text.Encoding.UTF8.GetBytes(forged));
        // Its own message goes through the same connection after the forged ones, so once it is acked
        // the forged ones would have been processed too.
        await attacker.SendNextAsync(BaseMs);
        await attacker.WaitAllAckedAsync(AckTimeout, TimeSpan.FromSeconds(2));

        Assert.Equal(0, await stack.StoredAsync("sys-b"));
        Assert.Equal(attacker.ReadingsSent, await stack.StoredAsync("sys-a"));
        using var twin = await stack.Service.Http.GetAsync(new Uri("api/devices/sys-b", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, twin.StatusCode);
    }

    private async Task<List<Firmware>> ConnectAsync(string prefix)
    {
        var devices = ProductionServers.Devices.Where(d => d.StartsWith(prefix, StringComparison.Ordinal)).Select(stack.Device).ToList();
        foreach (var device in devices)
        {
            await device.ConnectAsync();
            await device.PublishBirthAsync("aerorun-3", "2026w01-it");
        }

        return devices;
    }

    private static async Task SendRoundsAsync(List<Firmware> devices, int rounds)
    {
        for (var r = 0; r < rounds; r++)
        {
            foreach (var device in devices)
            {
                await device.SendNextAsync(BaseMs);
            }
        }
    }

    private static async Task DisposeAllAsync(List<Firmware> devices)
    {
        foreach (var device in devices)
        {
            await device.DisposeAsync();
        }
    }
}
