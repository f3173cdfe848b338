using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Ingest;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// The whole service in process, as <c>dotnet run --project ingest</c> starts it, on free loopback ports:
/// embedded broker, Orleans silo, pipeline and HTTP API.
/// </summary>
public class ServiceFixture : IAsyncLifetime
{
    private readonly string[] _extraArgs;
    private readonly string _siloPort = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
    private readonly string _gatewayPort = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
    private WebApplication? _app;

    public ServiceFixture()
        : this([])
    {
    }

    protected ServiceFixture(string[] extraArgs) => _extraArgs = extraArgs;

    /// <summary>The clock the SLA monitor checks deadlines against; tests advance it instead of waiting.</summary>
    public Microsoft.Extensions.Time.Testing.FakeTimeProvider SlaClock { get; } = new(DateTimeOffset.UtcNow);

    public int MqttPort { get; } = FreePort();

    public Uri BaseAddress { get; } = new($"http://127.0.0.1:{FreePort()}");

    /// <summary>A client that sends <see cref="ApiKey"/>, an admin key; <see cref="Client"/> makes others.</summary>
    public HttpClient Http { get; } = new();

    /// <summary>The running service's services (the key ring, the endpoint data sources).</summary>
    public IServiceProvider Services => _app?.Services ?? throw new InvalidOperationException("The service is not running.");

    /// <summary>Every endpoint the running service maps, from its endpoint data sources.</summary>
    public IEnumerable<Microsoft.AspNetCore.Http.Endpoint> Endpoints =>
        ((Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)(_app ?? throw new InvalidOperationException("The service is not running."))).DataSources
            .SelectMany(source => source.Endpoints);

    /// <summary>The service's data directory (spill, dead letters, day files, twins), removed afterwards.</summary>
    public string DataDirectory { get; } = Directory.CreateTempSubdirectory("telemetry-e2e-").FullName;

    public const string DeviceSecret = "e2e-device-secret";

    /// <summary>Given as a plain string (<c>Api:Keys:0</c>), so it has every scope.</summary>
    public const string ApiKey = "e2e-api-key";

    /// <summary>A client for the service's HTTP API that sends <paramref name="apiKey"/> in X-Api-Key, or no key.</summary>
    public HttpClient Client(string? apiKey)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }

        return client;
    }

    /// <summary>The consumer account the fixture configures, for alerts/# and quality/#.</summary>
    public static (string User, string Password) Watcher { get; } = ("watcher", "watcher-password");

    /// <summary>A device client with its derived token, as firmware connects (MQTT 5).</summary>
    public Task<TestDevice> DeviceAsync(string id, params string[] subscriptions) =>
        TestDevice.ConnectAsync(MqttPort, id, MQTTnet.Formatter.MqttProtocolVersion.V500,
            (id, Ingest.Broker.DeviceCredentials.Token(id, DeviceSecret)), subscriptions);

    /// <summary>A consumer with the watcher account, as client <c>watcher.{name}</c> (an account owns the client ids
    /// of its name), or with an id the broker assigns when <paramref name="name"/> is empty.</summary>
    public Task<TestDevice> WatcherAsync(string name, MQTTnet.Formatter.MqttProtocolVersion protocol, params string[] subscriptions) =>
        TestDevice.ConnectAsync(MqttPort, name.Length == 0 ? string.Empty : $"{Watcher.User}.{name}", protocol, Watcher, subscriptions);

    /// <summary>Makes <paramref name="id"/> a shoe that crosses 70% cushioning: its birth, then four 45 km
    /// outings in the last days (180 km for a 72 kg runner is just under 70%, Cook et al.).</summary>
    public async Task CrossCushioningThresholdAsync(string id, string birthVector = "valid/birth-shoe.json")
    {
        await using var device = await DeviceAsync(id);
        await device.PublishAsync($"devices/{id}/birth", TestDevice.Vector(birthVector), retain: true);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var readings = string.Join(',', Enumerable.Range(0, 4).Select(i => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $$$"""{"ts":{{{now - ((4 - i) * 86_400_000L)}}},"m":{"distance_m":45000}}""")));
        await device.PublishAsync($"devices/{id}/telemetry", System.Text.Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"x","seq":0,"readings":[{{readings}}]}"""));
    }

    /// <summary>
    /// Raises a cushioning alert on shoe <paramref name="id"/> (<see cref="CrossCushioningThresholdAsync"/>) and waits for
    /// its "raised" event on <c>alerts/{id}</c>, heard by a watcher named <paramref name="watcherName"/> that stays
    /// subscribed for what the test does next.
    /// </summary>
    public async Task<RaisedAlert> RaiseCushioningAlertAsync(string id, string watcherName)
    {
        var watcher = await WatcherAsync(watcherName, MQTTnet.Formatter.MqttProtocolVersion.V500, $"alerts/{id}");
        await CrossCushioningThresholdAsync(id);
        var raised = await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "raised", "raised event");
        return new RaisedAlert(watcher, raised.GetProperty("id").GetString()!);
    }

    public virtual async Task InitializeAsync()
    {
        Http.BaseAddress = BaseAddress;
        Http.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        await StartAppAsync();
    }

    /// <summary>Stops the service and starts it again on the same ports and data directory; <paramref name="whileStopped"/>
    /// runs in between (to damage the stored state, for instance).</summary>
    public async Task RestartAsync(Action? whileStopped = null)
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        whileStopped?.Invoke();
        await StartAppAsync();
    }

    private async Task StartAppAsync()
    {
        _app = TelemetryApp.Build(
        [
            "--urls", BaseAddress.ToString(),
            "--Broker:Port", MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Orleans:SiloPort", _siloPort,
            "--Orleans:GatewayPort", _gatewayPort,
            // Acks with the default Uplink:AckInterval (0: published as soon as they are due), the path devices meet.
            // A reading ahead of service time is held on probation before it is rejected as final; the tests that send
            // such readings are about the rejection, not the clock drill (that is SlowClockTests), so keep it short.
            "--Pipeline:ClockSuspectWindow", "00:00:00.300",
            "--Logging:LogLevel:Default", "Warning",
            "--Storage:DataDirectory", DataDirectory,
            "--Broker:DeviceSecret", DeviceSecret,
            "--Api:Keys:0", ApiKey,
            "--Broker:Accounts:0:Username", Watcher.User,
            "--Broker:Accounts:0:Password", Watcher.Password,
            .. _extraArgs,
        ], services => services.AddKeyedSingleton<TimeProvider>(Orleans.Runtime.TimeProviderNames.Grains, SlaClock));
        await _app.StartAsync();

        // Ready once the subscriber is subscribed (/health): a device message published before that would reach
        // no subscriber, and a test sending one would wait for an answer that never comes.
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

    public virtual async Task DisposeAsync()
    {
        Http.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Directory.Delete(DataDirectory, recursive: true);
    }

    /// <summary>Polls <paramref name="path"/> until <paramref name="ready"/> holds; fails with <paramref name="what"/> after 30 s.</summary>
    public async Task<System.Text.Json.JsonElement> WaitForJsonAsync(string path, Func<System.Text.Json.JsonElement, bool> ready, string what)
    {
        var text = await PollTextAsync(path, t => t is not null && ready(System.Text.Json.JsonDocument.Parse(t).RootElement), what, successOnly: true);
        return System.Text.Json.JsonDocument.Parse(text!).RootElement;
    }

    /// <summary>Polls <paramref name="path"/> until <paramref name="ready"/> holds for its body, whatever the status; fails with <paramref name="what"/> after 30 s.</summary>
    public Task<string?> WaitForTextAsync(string path, Func<string, bool> ready, string what) =>
        PollTextAsync(path, t => t is not null && ready(t), what, successOnly: false);

    private async Task<string?> PollTextAsync(string path, Func<string?, bool> ready, string what, bool successOnly)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        string last;
        while (true)
        {
            using var response = await Http.GetAsync(new Uri(path, UriKind.Relative));
            var text = await response.Content.ReadAsStringAsync();
            last = $"{(int)response.StatusCode} {(text.Length > 2000 ? text[..2000] + "…" : text)}";
            if ((response.IsSuccessStatusCode || !successOnly) && ready(text))
            {
                return text;
            }

            if (DateTimeOffset.UtcNow > deadline)
            {
                // What was last seen, so that a failure says which part of the condition did not hold.
                throw new TimeoutException($"{what}: not seen at {path} within 30 s; last answer: {last}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>A free loopback port below the kernel's ephemeral range (see <see cref="Telemetry.Tests.TestPorts"/>).</summary>
    internal static int FreePort() => Telemetry.Tests.TestPorts.Next();
}

/// <summary>An alert a test raised, and the watcher that heard it (still subscribed to the device's alerts).</summary>
public sealed record RaisedAlert(TestDevice Watcher, string Id) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Watcher.DisposeAsync();
}
