using System.Globalization;
using System.Net;
using System.Text.Json;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// The fault drill of a service clock 10 minutes slow (<c>Clock:Offset</c>): readings "in the future" are held
/// unacknowledged on probation, and once several devices' readings are, the service suspects its own clock and
/// says so on /health; with the clock right again, everything the devices hold is stored.
/// </summary>
public sealed class SlowClockTests : IAsyncLifetime
{
    private const string Secret = "slow-clock-secret";
    private readonly int _mqttPort = ServerProcess.FreePort();
    private readonly List<Firmware> _devices = [];
    private ServiceProcess _slow = null!;
    private ServiceProcess? _right;

    public async Task InitializeAsync()
    {
        _slow = Service("--Clock:Offset=-00:10:00");
        await _slow.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var device in _devices)
        {
            await device.DisposeAsync();
        }

        await _slow.DisposeAsync();
        if (_right is not null)
        {
            await _right.DisposeAsync();
        }
    }

    [Fact]
    public async Task ServiceTenMinutesSlow_HoldsReadingsFromManyDevices_AndStoresThemOnceTheClockIsRight()
    {
        var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < 4; i++)
        {
            var device = new Firmware($"clock-shoe-{i}", _mqttPort, Secret);
            _devices.Add(device);
            await device.ConnectAsync();
            await device.SendNextAsync(nowMs);
        }

        // Nothing is rejected at first sight (each device is on probation), and from the third device on the
        // service suspects its own clock: every message is held, none acked.
        await EventuallyAsync(async () => (await _slow.StatsAsync()).GetProperty("held").GetInt32() == 4, "every device's message to be held");
        var stats = await _slow.StatsAsync();
        // Each retry of a held message counts again.
        Assert.True(stats.GetProperty("clock_holds").GetInt64() >= 4, stats.GetRawText());
        Assert.Equal(0, stats.GetProperty("rejections").GetProperty("timestamp_in_future").GetInt64());
        Assert.All(_devices, d => Assert.Equal(-1, d.AckedThrough));
        var health = await HealthAsync(_slow);
        Assert.Equal(HttpStatusCode.OK, health.Status);
        Assert.StartsWith("Degraded", health.Body, StringComparison.Ordinal);
        Assert.Contains("the service clock looks slow", health.Body, StringComparison.Ordinal);

        // The clock is put right (a run without the offset); the devices resend what was never acked.
        await _slow.StopAsync();
        _right = Service();
        await _right.StartAsync();
        foreach (var device in _devices)
        {
            await device.WaitAllAckedAsync(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(1));
            var twin = JsonDocument.Parse(await _right.Http.GetStringAsync(new Uri($"api/devices/{device.Id}", UriKind.Relative))).RootElement;
            Assert.Equal(10, twin.GetProperty("totals").GetProperty("readings").GetInt64());
        }
    }

    private ServiceProcess Service(params string[] args) => new(
        [
            "--Broker:Port", _mqttPort.ToString(CultureInfo.InvariantCulture),
            "--Broker:DeviceSecret", Secret,
            "--Pipeline:ClockSuspectDevices", "3",
            .. args,
        ]);

    private static async Task<(HttpStatusCode Status, string Body)> HealthAsync(ServiceProcess service)
    {
        using var response = await service.Http.GetAsync(new Uri("health", UriKind.Relative));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task EventuallyAsync(Func<Task<bool>> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}; /health: {(await HealthAsync(_slow)).Body}\n{_slow.Output}");
            await Task.Delay(100);
        }
    }
}
