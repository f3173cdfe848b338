using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// SIGTERM in the middle of traffic: the service stops taking messages, finishes or releases the round in
/// flight, and exits 0 within Shutdown:Timeout; every reading acked to a device is in the line files and in
/// the twin after a restart.
/// </summary>
public sealed class GracefulShutdownTests : IAsyncLifetime
{
    private const string Secret = "shutdown-secret";
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(15);
    private readonly int _mqttPort = ServerProcess.FreePort();
    private readonly List<Firmware> _devices = [];
    private ServiceProcess _service = null!;

    public async Task InitializeAsync()
    {
        _service = new ServiceProcess(
            "--Broker:Port", _mqttPort.ToString(CultureInfo.InvariantCulture),
            "--Broker:DeviceSecret", Secret,
            "--Shutdown:Timeout", ShutdownTimeout.ToString("c", CultureInfo.InvariantCulture));
        await _service.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var device in _devices)
        {
            await device.DisposeAsync();
        }

        await _service.DisposeAsync();
    }

    [Fact]
    public async Task Sigterm_MidTraffic_ExitsZeroInTime_AndEveryAckedReadingIsStored()
    {
        for (var i = 0; i < 5; i++)
        {
            var device = new Firmware($"term-shoe-{i}", _mqttPort, Secret);
            _devices.Add(device);
            await device.ConnectAsync();
        }

        var baseMs = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();
        using var stopSending = new CancellationTokenSource();
        var sending = Task.Run(async () =>
        {
            while (!stopSending.IsCancellationRequested)
            {
                foreach (var device in _devices)
                {
                    await device.SendNextAsync(baseMs);
                }

                await Task.Delay(20);
            }
        });

        // Traffic is flowing: some messages are acked, more are in flight.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_devices.Any(d => d.AckedThrough < 20))
        {
            Assert.True(DateTime.UtcNow < deadline, "no traffic acked within 30 s");
            await Task.Delay(50);
        }

        var clock = Stopwatch.StartNew();
        var exitCode = await _service.TerminateAsync(ShutdownTimeout + TimeSpan.FromSeconds(10));
        var took = clock.Elapsed;
        await stopSending.CancelAsync();
        await sending;

        Assert.True(exitCode == 0, $"exit code {exitCode?.ToString(CultureInfo.InvariantCulture) ?? "none (killed)"} after {took}\n{_service.Output}");
        Assert.True(took < ShutdownTimeout + TimeSpan.FromSeconds(3), $"took {took} to exit, bound {ShutdownTimeout}");

        var acked = _devices.ToDictionary(d => d.Id, d => (d.AckedThrough + 1) * d.ReadingsPerMessage);
        var lines = Directory.GetFiles(Path.Combine(_service.DataDirectory, "lines"), "*.lp").SelectMany(File.ReadLines).Distinct().ToList();
        foreach (var (id, readings) in acked)
        {
            var device = new Regex($"(^|,)device={Regex.Escape(id)}(,| )", RegexOptions.CultureInvariant);
            var stored = lines.Count(device.IsMatch);
            Assert.True(stored >= readings, $"{id}: {readings} readings acked, {stored} stored");
        }

        await _service.StartAsync();
        foreach (var (id, readings) in acked)
        {
            var twin = JsonDocument.Parse(await _service.Http.GetStringAsync(new Uri($"api/devices/{id}", UriKind.Relative))).RootElement;
            var applied = twin.GetProperty("totals").GetProperty("readings").GetInt64();
            Assert.True(applied >= readings, $"{id}: {readings} readings acked, the twin has {applied}");
        }
    }
}
