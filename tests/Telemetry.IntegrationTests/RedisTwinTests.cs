using System.Globalization;
using System.Text.Json;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>Twins in Redis (Twins:Store=Redis) survive a restart of the service.</summary>
public sealed class RedisTwinTests : IAsyncLifetime
{
    private const string Secret = "redis-test-secret";
    private readonly RedisServer _redis = new();
    private readonly int _mqttPort = ServerProcess.FreePort();
    private ServiceProcess _service = null!;

    public async Task InitializeAsync()
    {
        await _redis.StartAsync();
        _service = new ServiceProcess(
            "--Broker:Port", _mqttPort.ToString(CultureInfo.InvariantCulture),
            "--Broker:DeviceSecret", Secret,
            "--Twins:Store", "Redis",
            "--Twins:Redis", $"127.0.0.1:{_redis.Port}");
        await _service.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Twin_SurvivesARestart()
    {
        var baseMs = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();
        await using (var device = new Firmware("redis-shoe-1", _mqttPort, Secret))
        {
            await device.ConnectAsync();
            await device.PublishBirthAsync("aerorun-3", "2026w02");
            for (var i = 0; i < 3; i++)
            {
                await device.SendNextAsync(baseMs);
            }

            await device.WaitAllAckedAsync(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        }

        var before = await TwinAsync();
        await _service.StopAsync();
        // Nothing is left on disk for the twin: it can only come back from Redis.
        Assert.False(File.Exists(Path.Combine(_service.DataDirectory, "twins.db")));
        await _service.StartAsync();
        var after = await TwinAsync();

        Assert.Equal(30, after.GetProperty("totals").GetProperty("readings").GetInt64());
        Assert.Equal(before.GetProperty("totals").GetRawText(), after.GetProperty("totals").GetRawText());
        Assert.Equal(before.GetProperty("birth").GetRawText(), after.GetProperty("birth").GetRawText());
    }

    private async Task<JsonElement> TwinAsync() =>
        JsonDocument.Parse(await _service.Http.GetStringAsync(new Uri("api/devices/redis-shoe-1", UriKind.Relative))).RootElement;
}
