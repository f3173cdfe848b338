using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Telemetry.Ingest.Broker;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// The embedded broker's in-flight window towards the service (issue #11, item 3), against the real MQTTnet
/// broker on a loopback port: a subscriber with the service's identity and manual acknowledgement stands in for
/// the service, so that a store that never answers is simply a subscriber that does not acknowledge.
/// </summary>
public sealed class ServiceWindowEndToEndTests : IAsyncLifetime
{
    private const int Window = 20;
    private const string DeviceSecret = "window-device-secret";
    private const string ServicePassword = "window-service-password";

    private readonly int _port = FreePort();
    private readonly ServiceProvider _metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private EmbeddedBroker? _broker;
    private BrokerCounters? _counters;

    private BrokerCounters Counters => _counters ?? throw new InvalidOperationException("The broker is not running.");

    public async Task InitializeAsync()
    {
        var options = Options.Create(new BrokerOptions
        {
            Port = _port,
            ServiceWindow = Window,
            DeviceSecret = DeviceSecret,
            Password = ServicePassword,
        });
        _counters = new BrokerCounters(_metrics.GetRequiredService<IMeterFactory>());
        _broker = new EmbeddedBroker(
            options,
            Options.Create(new Ingest.Simulation.SimulationOptions()),
            new BrokerSecrets(options, Options.Create(new Ingest.Storage.StorageOptions())),
            _counters,
            NullLogger<EmbeddedBroker>.Instance);
        await _broker.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.StopAsync(CancellationToken.None);
            await _broker.DisposeAsync();
        }

        await _metrics.DisposeAsync();
    }

    [Fact]
    public async Task Window_PausesDevicesWhileTheServiceDoesNotAcknowledge_ThenDeliversEveryMessageOnce()
    {
        await using var service = await ServiceSubscriber.ConnectAsync(_port, acknowledge: false);
        var devices = await DevicesAsync(5);
        const int perDevice = 30;
        var publishes = devices.SelectMany((d, i) => Enumerable.Range(0, perDevice).Select(seq => d.PublishAsync(i, seq))).ToList();

        // Every device ends up paused in the broker with its next message; the service holds exactly the window.
        await WaitUntilAsync(() => Counters.WindowWaiting == devices.Count && service.Received == Window && publishes.Count(p => p.IsCompleted) == Window,
            () => $"expected {devices.Count} devices paused and {Window} messages at the service; {Counters.WindowWaiting} paused, {service.Received} received, {Counters.ServiceInFlight} in flight, {publishes.Count(p => p.IsCompleted)} PUBACKs");
        Assert.Equal(Window, Counters.ServiceInFlight);
        Assert.Equal(Window, service.Received);
        Assert.True(service.MaxUnacknowledged <= Window, $"the service had {service.MaxUnacknowledged} unacknowledged messages at once (window {Window})");
        // Paused, not dropped: the devices have their PUBACK for exactly the messages the service holds.
        Assert.Equal(Window, publishes.Count(p => p.IsCompletedSuccessfully));

        await service.AcknowledgeAllAsync();
        var results = await Task.WhenAll(publishes).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.All(results, r => Assert.Equal(MqttClientPublishReasonCode.Success, r.ReasonCode));
        await WaitUntilAsync(() => service.Received == devices.Count * perDevice, () => $"{service.Received} of {devices.Count * perDevice} messages reached the service");
        var expected = Enumerable.Range(0, devices.Count).SelectMany(i => Enumerable.Range(0, perDevice).Select(seq => $"{DeviceId(i)}/{seq}"));
        Assert.Equal(expected.Order(StringComparer.Ordinal), service.Payloads.Order(StringComparer.Ordinal));
        Assert.True(service.MaxUnacknowledged <= Window, $"the service had {service.MaxUnacknowledged} unacknowledged messages at once (window {Window})");
        await WaitUntilAsync(() => Counters.ServiceInFlight == 0, () => $"{Counters.ServiceInFlight} places still taken after every acknowledgement");
        Assert.True(Counters.WindowWaits >= devices.Count, $"window waits {Counters.WindowWaits}");
        Assert.True(Counters.WindowPaused > TimeSpan.Zero);
        Assert.Equal(0, Counters.ServiceDropped);
        await DisposeAllAsync(devices);
    }

    [Fact]
    public async Task Window_BoundsWhatQueuesWhileTheServiceIsAway()
    {
        var service = await ServiceSubscriber.ConnectAsync(_port, acknowledge: true);
        await service.DisposeAsync();
        var devices = await DevicesAsync(3);
        // More than a window each: with exactly a window, one device can take every place and never wait.
        const int perDevice = Window + 10;
        var publishes = devices.SelectMany((d, i) => Enumerable.Range(0, perDevice).Select(seq => d.PublishAsync(i, seq))).ToList();

        // The persistent session keeps the window's worth for the absent service, and no more.
        await WaitUntilAsync(() => Counters.WindowWaiting == devices.Count && Counters.ServiceInFlight == Window && publishes.Count(p => p.IsCompleted) == Window,
            () => $"{Counters.WindowWaiting} devices paused, {Counters.ServiceInFlight} in flight, {publishes.Count(p => p.IsCompleted)} PUBACKs");
        Assert.Equal(Window, publishes.Count(p => p.IsCompletedSuccessfully));

        await using var back = await ServiceSubscriber.ConnectAsync(_port, acknowledge: true);
        await Task.WhenAll(publishes).WaitAsync(TimeSpan.FromSeconds(60));
        await WaitUntilAsync(() => back.Received == devices.Count * perDevice, () => $"{back.Received} of {devices.Count * perDevice} messages reached the service");
        Assert.Equal(devices.Count * perDevice, back.Payloads.Distinct(StringComparer.Ordinal).Count());
        await WaitUntilAsync(() => Counters.ServiceInFlight == 0, () => $"{Counters.ServiceInFlight} places still taken after every acknowledgement");
        await DisposeAllAsync(devices);
    }

    [Fact]
    public async Task Window_NeverPausesTheServicesOwnPublishes()
    {
        await using var service = await ServiceSubscriber.ConnectAsync(_port, acknowledge: false);
        var devices = await DevicesAsync(1);
        var publishes = Enumerable.Range(0, Window + 10).Select(seq => devices[0].PublishAsync(0, seq)).ToList();
        await using var listener = await TestDevice.ConnectAsync(_port, DeviceId(1), MqttProtocolVersion.V500,
            (DeviceId(1), DeviceCredentials.Token(DeviceId(1), DeviceSecret)), $"devices/{DeviceId(1)}/ack");
        await WaitUntilAsync(() => Counters.WindowWaiting == 1 && Counters.ServiceInFlight == Window && publishes.Count(p => p.IsCompleted) == Window,
            () => $"{Counters.WindowWaiting} devices paused, {Counters.ServiceInFlight} in flight, {publishes.Count(p => p.IsCompleted)} PUBACKs");

        // The outbox's acks and alerts go out while every place is taken.
        using var outbox = new MqttClientFactory().CreateMqttClient();
        await outbox.ConnectAsync(ServiceSubscriber.Options(_port, "telemetry-outbox", persistent: false));
        foreach (var topic in new[] { $"devices/{DeviceId(1)}/ack", "alerts/window-test", $"devices/{DeviceId(1)}/telemetry" })
        {
            var result = await outbox.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("{\"ok\":true}")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(result.IsSuccess, $"{topic}: {result.ReasonCode}");
        }

        var (ackTopic, _) = await listener.ReceiveAsync("the service's ack while the window is full");
        Assert.Equal($"devices/{DeviceId(1)}/ack", ackTopic);
        Assert.Equal(1, Counters.WindowWaiting);
        Assert.Equal(Window, publishes.Count(p => p.IsCompletedSuccessfully));
        await outbox.DisconnectAsync();
        await DisposeAllAsync(devices);
    }

    [Fact]
    public async Task Window_DeviceThatDisconnectsWhilePaused_LeavesNoPlaceTaken()
    {
        await using var service = await ServiceSubscriber.ConnectAsync(_port, acknowledge: false);
        var devices = await DevicesAsync(2);
        var first = Enumerable.Range(0, Window).Select(seq => devices[0].PublishAsync(0, seq)).ToList();
        await Task.WhenAll(first).WaitAsync(TimeSpan.FromSeconds(30));
        var paused = devices[1].PublishAsync(1, 0);
        await WaitUntilAsync(() => Counters.WindowWaiting == 1, () => $"{Counters.WindowWaiting} devices paused");

        await devices[1].DisposeAsync();
        await WaitUntilAsync(() => Counters.WindowWaiting == 0, () => $"{Counters.WindowWaiting} devices still paused after the device left");
        Assert.False(paused.IsCompletedSuccessfully);
        Assert.Equal(Window, Counters.ServiceInFlight);
        Assert.Equal(Window, service.Received);

        await service.AcknowledgeAllAsync();
        await WaitUntilAsync(() => Counters.ServiceInFlight == 0, () => $"{Counters.ServiceInFlight} places still taken after every acknowledgement");
        await devices[0].DisposeAsync();
    }

    [Fact]
    public async Task Window_DoesNotHoldDevicesBack_WhenNoServiceSessionExists()
    {
        var devices = await DevicesAsync(2);

        // Nothing queues for a service that never connected, so nothing may take a place or wait.
        var results = await Task.WhenAll(devices.SelectMany((d, i) => Enumerable.Range(0, Window * 2).Select(seq => d.PublishAsync(i, seq))))
            .WaitAsync(TimeSpan.FromSeconds(30));

        Assert.All(results, r => Assert.Equal(MqttClientPublishReasonCode.NoMatchingSubscribers, r.ReasonCode));
        Assert.Equal(0, Counters.ServiceInFlight);
        Assert.Equal(0, Counters.WindowWaits);
        await DisposeAllAsync(devices);
    }

    private static string DeviceId(int i) => $"window-dev-{i}";

    private async Task<List<Device>> DevicesAsync(int count)
    {
        var devices = new List<Device>();
        for (var i = 0; i < count; i++)
        {
            devices.Add(await Device.ConnectAsync(_port, DeviceId(i)));
        }

        return devices;
    }

    private static async Task DisposeAllAsync(IEnumerable<Device> devices)
    {
        foreach (var device in devices)
        {
            await device.DisposeAsync();
        }
    }

    /// <summary>Polls <paramref name="done"/> every 20 ms; fails with <paramref name="what"/> after 30 s.</summary>
    private static async Task WaitUntilAsync(Func<bool> done, Func<string> what)
    {
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(30); !done(); await Task.Delay(20))
        {
            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"Not within 30 s: {what()}");
            }
        }
    }

    private static int FreePort() => Telemetry.Tests.TestPorts.Next();

    /// <summary>A device that publishes <c>{id}/{seq}</c> as its telemetry payload, QoS 1, as firmware does.</summary>
    private sealed class Device : IAsyncDisposable
    {
        private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
        private string _id = string.Empty;

        public static async Task<Device> ConnectAsync(int port, string id)
        {
            var device = new Device { _id = id };
            await device._client.ConnectAsync(new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", port)
                .WithClientId(id)
                .WithProtocolVersion(MqttProtocolVersion.V500)
                .WithCredentials(id, DeviceCredentials.Token(id, DeviceSecret))
                .WithTimeout(TimeSpan.FromSeconds(60))
                .Build());
            return device;
        }

        public Task<MqttClientPublishResult> PublishAsync(int index, int seq) => _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic($"devices/{_id}/telemetry")
            .WithPayload($"{DeviceId(index)}/{seq}")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());

        public async ValueTask DisposeAsync()
        {
            if (_client.IsConnected)
            {
                await _client.DisconnectAsync();
            }

            _client.Dispose();
        }
    }

    /// <summary>
    /// The service's subscriber as MqttIngestService connects it (its identity and client id, MQTT 5, persistent
    /// session, QoS 1, manual acknowledgement), recording what it receives; it acknowledges at once, or only when told.
    /// </summary>
    private sealed class ServiceSubscriber : IAsyncDisposable
    {
        private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
        private readonly ConcurrentQueue<MqttApplicationMessageReceivedEventArgs> _held = new();
        private readonly ConcurrentBag<string> _payloads = [];
        private readonly object _lock = new();
        private bool _acknowledge;
        private int _unacknowledged;
        private int _maxUnacknowledged;

        public int Received => _payloads.Count;

        public IReadOnlyCollection<string> Payloads => _payloads.ToArray();

        /// <summary>The most messages this subscriber held unacknowledged at once.</summary>
        public int MaxUnacknowledged => Volatile.Read(ref _maxUnacknowledged);

        public static MqttClientOptions Options(int port, string clientId, bool persistent)
        {
            var builder = new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", port)
                .WithClientId(clientId)
                .WithProtocolVersion(MqttProtocolVersion.V500)
                .WithCredentials(BrokerSecrets.DefaultServiceUsername, ServicePassword)
                .WithReceiveMaximum(Window);
            return persistent ? builder.WithCleanStart(false).WithSessionExpiryInterval(3600).Build() : builder.Build();
        }

        public static async Task<ServiceSubscriber> ConnectAsync(int port, bool acknowledge)
        {
            var subscriber = new ServiceSubscriber { _acknowledge = acknowledge };
            subscriber._client.ApplicationMessageReceivedAsync += subscriber.OnReceivedAsync;
            var connected = await subscriber._client.ConnectAsync(Options(port, "telemetry-ingest", persistent: true));
            Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
            await subscriber._client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(f => f.WithTopic("devices/+/birth").WithAtLeastOnceQoS())
                .WithTopicFilter(f => f.WithTopic("devices/+/telemetry").WithAtLeastOnceQoS())
                .Build());
            return subscriber;
        }

        /// <summary>Acknowledges everything held, and from now on every message as it arrives.</summary>
        public async Task AcknowledgeAllAsync()
        {
            lock (_lock)
            {
                _acknowledge = true;
            }

            while (_held.TryDequeue(out var e))
            {
                await AcknowledgeAsync(e);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_client.IsConnected)
            {
                await _client.DisconnectAsync();
            }

            _client.Dispose();
        }

        private async Task OnReceivedAsync(MqttApplicationMessageReceivedEventArgs e)
        {
            e.AutoAcknowledge = false;
            _payloads.Add(e.ApplicationMessage.ConvertPayloadToString());
            bool now;
            lock (_lock)
            {
                _maxUnacknowledged = Math.Max(_maxUnacknowledged, ++_unacknowledged);
                now = _acknowledge;
                if (!now)
                {
                    _held.Enqueue(e);
                }
            }

            if (now)
            {
                await AcknowledgeAsync(e);
            }
        }

        private async Task AcknowledgeAsync(MqttApplicationMessageReceivedEventArgs e)
        {
            lock (_lock)
            {
                _unacknowledged--;
            }

            await e.AcknowledgeAsync(CancellationToken.None);
        }
    }
}
