using System.Globalization;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// The production shape on real servers: Mosquitto with the shipped configuration and per-device passwords,
/// InfluxDB 1.6.7 over the v1 API, and the service as its own process in external broker mode on the
/// service listener. Devices use the plain device listener.
/// </summary>
public sealed class ProductionServers : IAsyncLifetime
{
    public const string Secret = "integration-device-secret";
    public const string Database = "telemetry";

    public static readonly string[] Devices =
    [
        .. Enumerable.Range(0, 5).Select(i => $"sys-out-{i}"),
        .. Enumerable.Range(0, 5).Select(i => $"sys-kill-{i}"),
        "sys-a", "sys-b",
        .. Enumerable.Range(1, 5).Select(i => $"victim-{i}"),
        .. Enumerable.Range(1, 5).Select(i => $"intruder-{i}"),
        "tls-device", "cbor-device",
    ];

    public InfluxServer Influx { get; } = new();

    public MosquittoServer Mosquitto { get; } = new(Secret, Devices);

    public ServiceProcess Service { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Influx.StartAsync(), Mosquitto.StartAsync());
        Service = new ServiceProcess(
            "--Broker:Mode", "External",
            "--Broker:Host", "127.0.0.1",
            "--Broker:Port", Mosquitto.ServicePort.ToString(CultureInfo.InvariantCulture),
            "--Broker:Username", MosquittoServer.ServiceUser,
            "--Broker:Password", MosquittoServer.ServicePassword,
            "--Influx:Url", Influx.Url.ToString(),
            "--Influx:Database", Database,
            "--Influx:RetryDelay", "00:00:00.100",
            "--Influx:MaxRetryDelay", "00:00:01");
        await Service.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await Service.DisposeAsync();
        await Mosquitto.DisposeAsync();
        await Influx.DisposeAsync();
    }

    public Firmware Device(string id) => new(id, Mosquitto.Port, Secret);

    /// <summary>Readings stored for devices whose id starts with <paramref name="prefix"/>.</summary>
    public Task<long> StoredAsync(string prefix) =>
        Influx.CountAsync(Database, $"SELECT count(seq) FROM shoe WHERE device =~ /^{prefix}/");

    /// <summary>Waits until the service has replayed its spill file (InfluxDB has everything it acked).</summary>
    public async Task WaitForSpillReplayedAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await Service.StatsAsync()).GetProperty("storage").GetProperty("spill_backlog_bytes").GetInt64() > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the spill file was not replayed within 60 s");
            await Task.Delay(100);
        }
    }
}
