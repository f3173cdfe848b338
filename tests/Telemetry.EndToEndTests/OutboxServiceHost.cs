using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Ingest;

namespace Telemetry.EndToEndTests;

/// <summary>
/// The whole service in process, like <see cref="ServiceFixture"/>, but with services a test replaces (a sink that
/// fails on purpose) and a restart that keeps the data directory: for the durable-outbox tests.
/// </summary>
public sealed class OutboxServiceHost : IAsyncDisposable
{
    private readonly string[] _extraArgs;
    private readonly Action<IServiceCollection> _replace;
    private readonly string _siloPort = FreePort().ToString(CultureInfo.InvariantCulture);
    private readonly string _gatewayPort = FreePort().ToString(CultureInfo.InvariantCulture);
    private WebApplication? _app;

    private OutboxServiceHost(string[] extraArgs, Action<IServiceCollection> replace) => (_extraArgs, _replace) = (extraArgs, replace);

    public int MqttPort { get; } = FreePort();

    public Uri BaseAddress { get; } = new($"http://127.0.0.1:{FreePort()}");

    public string DataDirectory { get; } = Directory.CreateTempSubdirectory("telemetry-outbox-").FullName;

    public IServiceProvider Services => _app?.Services ?? throw new InvalidOperationException("The service is not running.");

    public static async Task<OutboxServiceHost> StartAsync(string[] extraArgs, Action<IServiceCollection> replace)
    {
        var host = new OutboxServiceHost(extraArgs, replace);
        await host.StartAppAsync();
        return host;
    }

    public Task<TestDevice> DeviceAsync(string id, params string[] subscriptions) =>
        TestDevice.ConnectAsync(MqttPort, id, MQTTnet.Formatter.MqttProtocolVersion.V500,
            (id, Ingest.Broker.DeviceCredentials.Token(id, ServiceFixture.DeviceSecret)), subscriptions);

    public Task<TestDevice> WatcherAsync(string name, params string[] subscriptions) =>
        TestDevice.ConnectAsync(MqttPort, $"{ServiceFixture.Watcher.User}.{name}", MQTTnet.Formatter.MqttProtocolVersion.V500, ServiceFixture.Watcher, subscriptions);

    /// <summary>Stops the service (its grains are deactivated, what they stored stays) and starts it again on the same
    /// ports and data directory.</summary>
    public async Task RestartAsync()
    {
        await StopAppAsync();
        await StartAppAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAppAsync();
        Directory.Delete(DataDirectory, recursive: true);
    }

    private async Task StopAppAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    private async Task StartAppAsync()
    {
        _app = TelemetryApp.Build(
        [
            "--urls", BaseAddress.ToString(),
            "--Broker:Port", MqttPort.ToString(CultureInfo.InvariantCulture),
            "--Orleans:SiloPort", _siloPort,
            "--Orleans:GatewayPort", _gatewayPort,
            "--Uplink:AckInterval", "00:00:00.100",
            "--Logging:LogLevel:Default", "Warning",
            "--Storage:DataDirectory", DataDirectory,
            "--Broker:DeviceSecret", ServiceFixture.DeviceSecret,
            "--Api:Keys:0", ServiceFixture.ApiKey,
            "--Broker:Accounts:0:Username", ServiceFixture.Watcher.User,
            "--Broker:Accounts:0:Password", ServiceFixture.Watcher.Password,
            .. _extraArgs,
        ], _replace);
        await _app.StartAsync();

        using var health = new HttpClient { BaseAddress = BaseAddress };
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(30); ; await Task.Delay(50))
        {
            using var response = await health.GetAsync(new Uri("/health", UriKind.Relative));
            if (response.IsSuccessStatusCode)
            {
                break;
            }

            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"The service was not healthy 30 s after start: {await response.Content.ReadAsStringAsync()}");
            }
        }
    }

    private static int FreePort() => Telemetry.Tests.TestPorts.Next();
}
