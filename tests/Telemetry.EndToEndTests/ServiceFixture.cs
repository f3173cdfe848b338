using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Telemetry.Ingest;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// The whole service in process, as <c>dotnet run --project ingest</c> starts it, on free loopback ports:
/// embedded broker, Orleans silo, pipeline and HTTP API.
/// </summary>
public sealed class ServiceFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public int MqttPort { get; } = FreePort();

    public Uri BaseAddress { get; } = new($"http://127.0.0.1:{FreePort()}");

    public HttpClient Http { get; } = new();

    public async Task InitializeAsync()
    {
        Http.BaseAddress = BaseAddress;
        _app = TelemetryApp.Build(
        [
            "--urls", BaseAddress.ToString(),
            "--Broker:Port", MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Orleans:SiloPort", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Orleans:GatewayPort", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Uplink:AckInterval", "00:00:00.100",
            "--Logging:LogLevel:Default", "Warning",
        ]);
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
