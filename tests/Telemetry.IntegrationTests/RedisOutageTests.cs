using System.Globalization;
using System.Net;
using System.Text.Json;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// The twin store (Redis) fails under live traffic, or is down when the service starts: ingest holds what
/// it cannot apply, says so on /health, and catches up by itself once Redis answers, without a restart and
/// without the devices resending anything.
/// </summary>
public sealed class RedisOutageTests : IAsyncLifetime
{
    private const string Secret = "redis-outage-secret";
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(20);
    private readonly RedisServer _redis = new() { Persistent = true };
    private readonly int _mqttPort = ServerProcess.FreePort();
    private readonly List<Firmware> _devices = [];
    private ServiceProcess _service = null!;

    public Task InitializeAsync()
    {
        _service = new ServiceProcess(
            "--Broker:Port", _mqttPort.ToString(CultureInfo.InvariantCulture),
            "--Broker:DeviceSecret", Secret,
            "--Twins:Store", "Redis",
            "--Twins:Redis", $"127.0.0.1:{_redis.Port}",
            "--Pipeline:UnhealthyAfter", "00:00:08");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var device in _devices)
        {
            await device.DisposeAsync();
        }

        await _service.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task RedisDownUnderTraffic_EveryMessageReachesTheTwin_WithoutARestart()
    {
        await _redis.StartAsync();
        await _service.StartAsync();
        await ConnectDevicesAsync(3);
        var baseMs = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();

        await SendForAsync(TimeSpan.FromSeconds(3), baseMs, health: null);
        await AllAckedAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("Healthy", (await HealthAsync()).Body);

        await _redis.StopAsync();
        var during = new List<(HttpStatusCode Status, string Body)>();
        await SendForAsync(Outage, baseMs, during);
        await _redis.StartAsync();
        await SendForAsync(TimeSpan.FromSeconds(3), baseMs, health: null);

        // No resends: the service must apply what it held on its own.
        await AllAckedAsync(TimeSpan.FromSeconds(90));
        foreach (var device in _devices)
        {
            var totals = (await TwinAsync(device.Id)).GetProperty("totals");
            Assert.Equal(device.ReadingsSent, totals.GetProperty("readings").GetInt64());
        }

        Assert.Contains(during, h => h.Status == HttpStatusCode.OK && h.Body.StartsWith("Degraded", StringComparison.Ordinal) && h.Body.Contains("twins", StringComparison.Ordinal));
        Assert.Contains(during, h => h.Status == HttpStatusCode.ServiceUnavailable && h.Body.StartsWith("Unhealthy", StringComparison.Ordinal) && h.Body.Contains("twins", StringComparison.Ordinal));
        await HealthyAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task RedisDownAtStart_ServiceRunsDegraded_AndTwinsCatchUpWhenRedisComes()
    {
        // Redis is not started: the service must start anyway and answer /health.
        await _service.StartAsync();
        await EventuallyAsync(async () => (await HealthAsync()) is { Status: HttpStatusCode.OK } h && h.Body.StartsWith("Degraded", StringComparison.Ordinal) && h.Body.Contains("twins: Redis at", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "/health to say Degraded for the twins");

        await ConnectDevicesAsync(1);
        var device = _devices[0];
        var baseMs = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();
        for (var i = 0; i < 3; i++)
        {
            await device.SendNextAsync(baseMs);
        }

        await EventuallyAsync(async () => (await _service.StatsAsync()).GetProperty("held").GetInt32() >= 1, TimeSpan.FromSeconds(30), "the messages to be held");
        Assert.Equal(-1, device.AckedThrough);

        await _redis.StartAsync();
        await AllAckedAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(30, (await TwinAsync(device.Id)).GetProperty("totals").GetProperty("readings").GetInt64());
        await HealthyAsync(TimeSpan.FromSeconds(30));
    }

    private async Task ConnectDevicesAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var device = new Firmware($"outage-shoe-{i}", _mqttPort, Secret);
            _devices.Add(device);
            await device.ConnectAsync();
            await device.PublishBirthAsync("aerorun-3", "2026w02");
        }
    }

    /// <summary>Every device sends a message every 250 ms for <paramref name="duration"/>; /health is read every second.</summary>
    private async Task SendForAsync(TimeSpan duration, long baseMs, List<(HttpStatusCode, string)>? health)
    {
        var end = DateTime.UtcNow + duration;
        var nextHealth = DateTime.UtcNow;
        while (DateTime.UtcNow < end)
        {
            foreach (var device in _devices)
            {
                await device.SendNextAsync(baseMs);
            }

            if (health is not null && DateTime.UtcNow >= nextHealth)
            {
                health.Add(await HealthAsync());
                nextHealth = DateTime.UtcNow.AddSeconds(1);
            }

            await Task.Delay(250);
        }
    }

    private Task AllAckedAsync(TimeSpan within) =>
        EventuallyAsync(() => Task.FromResult(_devices.All(d => d.AllAcked)), within,
            () => "every message to be acked: " + string.Join(", ", _devices.Select(d => $"{d.Id} acked through {d.AckedThrough} of {d.ReadingsSent / d.ReadingsPerMessage}")));

    private Task HealthyAsync(TimeSpan within) =>
        EventuallyAsync(async () => (await HealthAsync()).Body == "Healthy", within, "/health to be Healthy again");

    private Task EventuallyAsync(Func<Task<bool>> done, TimeSpan within, string what) => EventuallyAsync(done, within, () => what);

    private async Task EventuallyAsync(Func<Task<bool>> done, TimeSpan within, Func<string> what)
    {
        var deadline = DateTime.UtcNow + within;
        while (!await done())
        {
            if (DateTime.UtcNow >= deadline)
            {
                var stats = await AnswerAsync("api/ingest/stats");
                var twin = _devices.Count > 0 ? await AnswerAsync($"api/devices/{_devices[0].Id}") : "";
                Assert.Fail($"timed out after {within} waiting for {what()}; /health: {(await HealthAsync()).Body}\nstats: {stats}\ntwin: {twin}" +
                    $"\nservice output:\n{_service.Output}\nredis output:\n{_redis.Output}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>An API answer for a failure message, whatever its status.</summary>
    private async Task<string> AnswerAsync(string path)
    {
        using var response = await _service.Http.GetAsync(new Uri(path, UriKind.Relative));
        return $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
    }

    private async Task<(HttpStatusCode Status, string Body)> HealthAsync()
    {
        using var response = await _service.Http.GetAsync(new Uri("health", UriKind.Relative));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonElement> TwinAsync(string id) =>
        JsonDocument.Parse(await _service.Http.GetStringAsync(new Uri($"api/devices/{id}", UriKind.Relative))).RootElement;
}
