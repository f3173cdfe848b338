using System.Globalization;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// A broker that stops delivering to the subscriber while everything else looks fine: the connection is up, pings
/// are answered, devices get their PUBACKs. Mosquitto 2.0.11 was seen to do this after a drain (docs/reliability.md).
/// Here a broker swallows every PUBLISH it sends the service's subscriber once <see cref="StallingBrokerFixture.Stall"/>
/// is called, until the subscriber connects again; what it swallowed stays unacknowledged in the session and comes
/// again on the new connection, as with a real broker.
/// </summary>
public sealed class BrokerStallEndToEndTests(StallingBrokerFixture service) : IClassFixture<StallingBrokerFixture>
{
    [Fact]
    public async Task Subscriber_ReconnectsWhenTheBrokerStopsDelivering_AndTheStalledMessageIsAcked()
    {
        const string id = "stall-dev-1";
        await using var device = await TestDevice.ConnectAsync(service.BrokerPort, id, MqttProtocolVersion.V500, null, $"devices/{id}/ack");
        await device.PublishAsync($"devices/{id}/telemetry", Telemetry(id, 0));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0 before the stall");
        var connectsBefore = service.SubscriberConnects;
        var before = await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "the stats before the stall");

        service.Stall();
        await device.PublishAsync($"devices/{id}/telemetry", Telemetry(id, 1));

        // The device's message reached the broker, which sent it nowhere; the subscriber notices and reconnects.
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 1, "ack of seq 1 after the stall");
        Assert.True(service.DeviceSwallowed >= 1, $"the broker swallowed {service.DeviceSwallowed} devices' messages");
        Assert.True(service.SubscriberConnects > connectsBefore, "the subscriber did not reconnect");
        var stats = await service.WaitForJsonAsync("/api/ingest/stats", s => s.GetProperty("messages").GetInt64() >= 2, "both messages handled");
        var subscriber = stats.GetProperty("subscriber");
        // Counted from before the stall: the fixture's other tests count into the same service.
        Assert.True(Stalls(subscriber) > Stalls(before.GetProperty("subscriber")), subscriber.ToString());
        Assert.Equal(0, stats.GetProperty("invalid_topics").GetInt64());
    }

    [Fact]
    public async Task Subscriber_ReconnectsWhenTheBrokerStopsReadingIt_AndTheStalledMessageIsAcked()
    {
        // The other face of the same stall: the broker ignores what the subscriber sends, its PUBACKs included, so its
        // in-flight window fills and it delivers nothing more; the probe's own PUBLISH is never acknowledged either.
        const string id = "stall-dev-2";
        await using var device = await TestDevice.ConnectAsync(service.BrokerPort, id, MqttProtocolVersion.V500, null, $"devices/{id}/ack");
        await device.PublishAsync($"devices/{id}/telemetry", Telemetry(id, 0));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0 before the stall");
        var connectsBefore = service.SubscriberConnects;
        var before = await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "the stats before the stall");
        var (stallsBefore, duplicatesBefore) = (Stalls(before.GetProperty("subscriber")), before.GetProperty("duplicates").GetInt64());

        service.StopReading();
        await device.PublishAsync($"devices/{id}/telemetry", Telemetry(id, 1));

        // The service stores and app-acks seq 1 (the outbox is another connection), but the broker never took its
        // PUBACK: after the reconnect it delivers seq 1 again, and the dedupe absorbs it.
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 1, "ack of seq 1");
        var stats = await service.WaitForJsonAsync("/api/ingest/stats",
            s => Stalls(s.GetProperty("subscriber")) > stallsBefore && s.GetProperty("duplicates").GetInt64() > duplicatesBefore
                && s.GetProperty("subscriber").GetProperty("deliveries_outstanding").GetInt64() == 0,
            "a stall recovered by reconnecting, and seq 1 delivered again");
        Assert.True(service.DeviceAcksIgnored >= 1, $"the broker ignored {service.DeviceAcksIgnored} acknowledgements of devices' messages");
        Assert.True(service.SubscriberConnects > connectsBefore, "the subscriber did not reconnect");
        Assert.Equal(0, stats.GetProperty("invalid_topics").GetInt64());
    }

    [Fact]
    public async Task Probes_AreAcknowledgedAndNeverReachThePipeline()
    {
        // With a healthy broker the probe goes round every ProbeInterval; the pipeline never sees one. Counted from now:
        // the class's other tests acknowledge devices' messages on the same service.
        var before = await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "the stats");
        var acknowledged = before.GetProperty("subscriber").GetProperty("deliveries_acknowledged").GetInt64();
        var stats = await service.WaitForJsonAsync("/api/ingest/stats",
            s => s.GetProperty("subscriber").GetProperty("deliveries_acknowledged").GetInt64() >= acknowledged + 3, "three probes acknowledged");
        Assert.Equal(0, stats.GetProperty("invalid_topics").GetInt64());
        Assert.Equal(0, stats.GetProperty("rejections").GetProperty("malformed_json").GetInt64());
    }

    private static long Stalls(System.Text.Json.JsonElement subscriber) => subscriber.GetProperty("stalls").GetInt64();

    internal static byte[] Telemetry(string id, int seq) => System.Text.Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
        $$$"""{"v":1,"boot":"{{{id}}}","seq":{{{seq}}},"readings":[{"ts":{{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 1000}}},"m":{"steps":{{{seq + 1}}}}}]}"""));
}

/// <summary>The service against an MQTTnet broker of the test's own that can be told to stop delivering to the subscriber.</summary>
public class StallingBrokerFixture : ServiceFixture
{
    private const string Subscriber = "telemetry-ingest";
    private const string Outbox = "telemetry-outbox";
    private readonly MqttServer _broker;
    private volatile bool _stalled;
    private volatile bool _deaf;
    private volatile bool _subscriberMuted;
    private volatile bool _outboxMuted;
    private int _pingsIgnored;
    private int _subscriberPingsIgnored;
    private int _subscriberPingsIgnoredAtMute;
    private int _outboxPingsIgnored;
    private int _outboxPingsIgnoredAtMute;
    private int _outboxConnects;
    private int _subscribesToIgnore;
    private int _subscribesIgnored;
    private int _subscriberSubscriptions;
    private volatile bool _refuseCbor;
    private TaskCompletionSource? _subscribeHold;
    private int _subscribesHeld;
    private int _swallowed;
    private int _deviceSwallowed;
    private int _deviceSwallowedAtStall;
    private int _ignored;
    private int _deviceAcksIgnored;
    private int _deviceAcksIgnoredAtStop;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ushort, byte> _deviceDeliveries = new();
    private int _subscriberConnects;

    public StallingBrokerFixture()
        : this(FreePort(),
        [
            // Short, so the tests take seconds, and not so short that a busy CI machine looks stalled while idle.
            "--Broker:ProbeInterval", "00:00:00.500",
            "--Broker:StallAfter", "00:00:03",
        ])
    {
    }

    protected StallingBrokerFixture(int port, string[] settings, int subscribesToIgnore = 0)
        : base(
        [
            "--Broker:Mode", "External",
            "--Broker:Host", "127.0.0.1",
            "--Broker:Port", port.ToString(CultureInfo.InvariantCulture),
            "--Broker:Username", "telemetry-service",
            "--Broker:Password", "stall-test",
            .. settings,
        ])
    {
        BrokerPort = port;
        _subscribesToIgnore = subscribesToIgnore;
        _broker = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(System.Net.IPAddress.Loopback)
            .WithDefaultEndpointPort(port)
            .WithPersistentSessions()
            .Build());
        _broker.InterceptingOutboundPacketAsync += e =>
        {
            if (e.ClientId == Subscriber && e.Packet is MqttPublishPacket publish)
            {
                // A device's message, as against the service's own probes.
                var device = publish.Topic.StartsWith("devices/", StringComparison.Ordinal);
                if (_stalled || _subscriberMuted)
                {
                    // Sent, as far as the session knows: unacknowledged until the subscriber's next connection.
                    e.ProcessPacket = false;
                    Interlocked.Increment(ref _swallowed);
                    if (device)
                    {
                        Interlocked.Increment(ref _deviceSwallowed);
                    }
                }
                else if (device)
                {
                    _deviceDeliveries[publish.PacketIdentifier] = 0;
                }
            }

            return Task.CompletedTask;
        };
        _broker.InterceptingInboundPacketAsync += e =>
        {
            if (_deaf && e.ClientId == Subscriber && e.Packet is MqttPublishPacket or MqttPubAckPacket)
            {
                // Read from the socket and thrown away: no PUBACK for its probe, its acknowledgements never count.
                e.ProcessPacket = false;
                Interlocked.Increment(ref _ignored);
                if (e.Packet is MqttPubAckPacket ack && _deviceDeliveries.TryRemove(ack.PacketIdentifier, out _))
                {
                    Interlocked.Increment(ref _deviceAcksIgnored);
                }
            }

            if (e.Packet is MqttSubscribePacket && e.ClientId == Subscriber && Interlocked.Exchange(ref _subscribeHold, null) is { } hold)
            {
                // Not read on until released, as a SUBACK queued behind a backlog: the session's deliveries still go out.
                Interlocked.Increment(ref _subscribesHeld);
                return hold.Task;
            }

            if (e.Packet is MqttSubscribePacket && e.ClientId == Subscriber && Interlocked.Decrement(ref _subscribesToIgnore) >= 0)
            {
                // Never answered, and no subscription made: the session stays without one.
                e.ProcessPacket = false;
                Interlocked.Increment(ref _subscribesIgnored);
            }

            if (e.Packet is MqttPingReqPacket && ((_subscriberMuted && e.ClientId == Subscriber) || (_outboxMuted && e.ClientId == Outbox)))
            {
                // Read and never answered: the connection is up, as far as the client can tell, and silent.
                e.ProcessPacket = false;
                Interlocked.Increment(ref _pingsIgnored);
                Interlocked.Increment(ref e.ClientId == Subscriber ? ref _subscriberPingsIgnored : ref _outboxPingsIgnored);
            }

            return Task.CompletedTask;
        };
        _broker.InterceptingSubscriptionAsync += e =>
        {
            if (_refuseCbor && e.ClientId == Subscriber && e.TopicFilter.Topic.EndsWith("/cbor", StringComparison.Ordinal))
            {
                e.ProcessSubscription = false;
                e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            }

            return Task.CompletedTask;
        };
        _broker.ClientSubscribedTopicAsync += e =>
        {
            if (e.ClientId == Subscriber)
            {
                Interlocked.Increment(ref _subscriberSubscriptions);
            }

            return Task.CompletedTask;
        };
        _broker.ClientConnectedAsync += e =>
        {
            if (e.ClientId == Subscriber)
            {
                // Only a connection after the stall met a device's message ends it: one that comes sooner for another
                // reason (a busy machine's late probe) must not end the stall before the test's message meets it.
                if (Volatile.Read(ref _deviceSwallowed) > Volatile.Read(ref _deviceSwallowedAtStall))
                {
                    _stalled = false;
                }

                if (Volatile.Read(ref _deviceAcksIgnored) > Volatile.Read(ref _deviceAcksIgnoredAtStop))
                {
                    _deaf = false;
                }

                if (Volatile.Read(ref _subscriberPingsIgnored) > Volatile.Read(ref _subscriberPingsIgnoredAtMute))
                {
                    _subscriberMuted = false;
                }

                Interlocked.Increment(ref _subscriberConnects);
            }
            else if (e.ClientId == Outbox)
            {
                if (Volatile.Read(ref _outboxPingsIgnored) > Volatile.Read(ref _outboxPingsIgnoredAtMute))
                {
                    _outboxMuted = false;
                }

                Interlocked.Increment(ref _outboxConnects);
            }

            return Task.CompletedTask;
        };
    }

    public int BrokerPort { get; }

    /// <summary>PUBLISHes to the subscriber swallowed so far.</summary>
    public int Swallowed => Volatile.Read(ref _swallowed);

    /// <summary>Devices' messages (not probes) swallowed on their way to the subscriber so far.</summary>
    public int DeviceSwallowed => Volatile.Read(ref _deviceSwallowed);

    /// <summary>The subscriber's PUBACKs of devices' messages (not probes) ignored so far.</summary>
    public int DeviceAcksIgnored => Volatile.Read(ref _deviceAcksIgnored);

    public int SubscriberConnects => Volatile.Read(ref _subscriberConnects);

    public int OutboxConnects => Volatile.Read(ref _outboxConnects);

    /// <summary>SUBSCRIBEs of the subscriber left unanswered and without effect.</summary>
    public int SubscribesIgnored => Volatile.Read(ref _subscribesIgnored);

    /// <summary>From now on the subscriber's next SUBSCRIBE goes unanswered and without effect.</summary>
    public void IgnoreNextSubscribe() => Interlocked.Exchange(ref _subscribesToIgnore, 1);

    /// <summary>SUBSCRIBEs of the subscriber held so far (<see cref="HoldNextSubscribe"/>).</summary>
    public int SubscribesHeld => Volatile.Read(ref _subscribesHeld);

    /// <summary>The subscriber's next SUBSCRIBE is held unanswered until the returned source is completed; nothing else
    /// the subscriber sends is read meanwhile, and the broker goes on delivering to it.</summary>
    public TaskCompletionSource HoldNextSubscribe()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _subscribeHold, hold);
        return hold;
    }

    /// <summary>Closes the subscriber's connection from the broker's side; its persistent session stays.</summary>
    public Task KickSubscriberAsync() => _broker.DisconnectClientAsync(Subscriber, new MqttServerClientDisconnectOptions());

    /// <summary>From now on the broker refuses the subscriber's CBOR telemetry filter (NotAuthorized), as an ACL would.</summary>
    public void RefuseCborSubscription() => _refuseCbor = true;

    /// <summary>Topic filters the broker subscribed the subscriber to.</summary>
    public int SubscriberSubscriptions => Volatile.Read(ref _subscriberSubscriptions);

    /// <summary>Pings of the subscriber and the outbox left unanswered so far.</summary>
    public int PingsIgnored => Volatile.Read(ref _pingsIgnored);

    /// <summary>Packets of the subscriber (PUBLISH, PUBACK) ignored so far.</summary>
    public int Ignored => Volatile.Read(ref _ignored);

    /// <summary>From now until the subscriber connects again after a device's message was swallowed, nothing the broker sends it arrives.</summary>
    public void Stall()
    {
        Volatile.Write(ref _deviceSwallowedAtStall, DeviceSwallowed);
        _stalled = true;
    }

    /// <summary>From now until the subscriber connects again after its PUBACK of a device's message was ignored, the broker
    /// ignores its PUBLISHes and PUBACKs.</summary>
    public void StopReading()
    {
        Volatile.Write(ref _deviceAcksIgnoredAtStop, DeviceAcksIgnored);
        _deaf = true;
    }

    /// <summary>
    /// From now until each connects again after one of its pings went unanswered, the broker delivers nothing to the
    /// subscriber and answers neither its pings nor the outbox's: both connections stay open and go silent.
    /// </summary>
    public void Mute()
    {
        Volatile.Write(ref _subscriberPingsIgnoredAtMute, Volatile.Read(ref _subscriberPingsIgnored));
        Volatile.Write(ref _outboxPingsIgnoredAtMute, Volatile.Read(ref _outboxPingsIgnored));
        _subscriberMuted = true;
        _outboxMuted = true;
    }

    public override async Task InitializeAsync()
    {
        await _broker.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _broker.StopAsync();
        _broker.Dispose();
    }
}

/// <summary>
/// The same broker with the delivery watch off and a short Broker:ResponseTimeout, so that only the connection check
/// (deliveries since the last check, or a ping answered in time) can find a silent broker. It leaves the subscriber's
/// first SUBSCRIBE unanswered, so the service starts with a connection and a fresh session without a subscription.
/// </summary>
public sealed class SilentBrokerFixture : StallingBrokerFixture
{
    public SilentBrokerFixture()
        : base(FreePort(), ["--Broker:ProbeInterval", "00:00:00", "--Broker:ResponseTimeout", "00:00:01"], subscribesToIgnore: 1)
    {
    }
}

/// <summary>
/// A broker that goes silent on connections that stay open: pings unanswered, nothing delivered. MQTTnet's client still
/// counts itself connected and refuses to connect again until it is disconnected; the service must close and reopen both
/// its connections, and the device's message must come through.
/// </summary>
public sealed class SilentBrokerEndToEndTests(SilentBrokerFixture service) : IClassFixture<SilentBrokerFixture>
{
    [Fact]
    public async Task Subscriber_AndOutbox_ReconnectWhenTheBrokerStopsAnswering_AndTheMessageIsAcked()
    {
        // Connected, its SUBSCRIBE unanswered: the subscriber must start over rather than keep a connection on which a
        // fresh session delivers nothing.
        await service.WaitForJsonAsync("/api/ingest/stats", _ => service.SubscriberSubscriptions > 0, "the subscriber subscribed");
        Assert.Equal(1, service.SubscribesIgnored);
        Assert.True(service.SubscriberConnects >= 2, $"{service.SubscriberConnects} connections of the subscriber");

        const string id = "silent-dev-1";
        await using var device = await TestDevice.ConnectAsync(service.BrokerPort, id, MqttProtocolVersion.V500, null, $"devices/{id}/ack");
        await device.PublishAsync($"devices/{id}/telemetry", BrokerStallEndToEndTests.Telemetry(id, 0));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0 before the silence");
        var subscriberConnects = service.SubscriberConnects;
        var outboxConnects = service.OutboxConnects;
        var pingsIgnored = service.PingsIgnored;
        var unanswered = (await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "stats")).GetProperty("subscriber").GetProperty("unanswered").GetInt64();

        service.Mute();
        await device.PublishAsync($"devices/{id}/telemetry", BrokerStallEndToEndTests.Telemetry(id, 1));

        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 1, "ack of seq 1 after the silence");
        Assert.True(service.SubscriberConnects > subscriberConnects, "the subscriber did not reconnect");
        await service.WaitForJsonAsync("/api/ingest/stats",
            s => s.GetProperty("subscriber").GetProperty("unanswered").GetInt64() > unanswered && s.GetProperty("subscriber").GetProperty("stalls").GetInt64() == 0,
            "the subscriber's reconnect counted as unanswered, not as a stall");
        // The outbox checks on its own schedule: it may reconnect a moment after the subscriber.
        await service.WaitForJsonAsync("/api/ingest/stats", _ => service.OutboxConnects > outboxConnects, "the outbox reconnected");
        Assert.True(service.PingsIgnored >= pingsIgnored + 2, $"the broker left {service.PingsIgnored - pingsIgnored} pings unanswered");
        await service.WaitForTextAsync("/health", h => h == "Healthy", "healthy");

        // Silent again, and on the new connection the SUBSCRIBE is never answered while the resumed session delivers seq 2
        // and then nothing more: the wait for the SUBACK lasts while deliveries come, then it is given up on, counted as
        // unanswered, and the subscriber starts over.
        subscriberConnects = service.SubscriberConnects;
        unanswered = (await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "stats")).GetProperty("subscriber").GetProperty("unanswered").GetInt64();
        service.IgnoreNextSubscribe();
        service.Mute();
        await device.PublishAsync($"devices/{id}/telemetry", BrokerStallEndToEndTests.Telemetry(id, 2));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 2, "ack of seq 2");
        await service.WaitForJsonAsync("/api/ingest/stats",
            s => s.GetProperty("subscriber").GetProperty("unanswered").GetInt64() >= unanswered + 2,
            "the silent connection and the unanswered SUBSCRIBE each counted as unanswered");
        await service.WaitForTextAsync("/health", h => h == "Healthy", "healthy once subscribed again");
        Assert.Equal(2, service.SubscribesIgnored);
        Assert.True(service.SubscriberConnects >= subscriberConnects + 2, $"{service.SubscriberConnects - subscriberConnects} new connections of the subscriber");

        // An ACL that refuses one filter: reported, by filter and reason, and the connection kept for the rest.
        service.RefuseCborSubscription();
        service.Mute();
        await service.WaitForTextAsync("/health", h => h.Contains("refused the subscription to devices/+/telemetry/cbor: NotAuthorized", StringComparison.Ordinal), "the refusal reported");
        await device.PublishAsync($"devices/{id}/telemetry", BrokerStallEndToEndTests.Telemetry(id, 3));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 3, "ack of seq 3 with the CBOR filter refused");
    }
}

/// <summary>The stalling broker with a SUBACK that can be held back, a 5 s Broker:ResponseTimeout and no delivery watch.</summary>
public sealed class SubackBehindBacklogFixture : StallingBrokerFixture
{
    public SubackBehindBacklogFixture()
        : base(FreePort(), ["--Broker:ProbeInterval", "00:00:00", "--Broker:ResponseTimeout", "00:00:05"])
    {
    }
}

/// <summary>
/// After a reconnect, a resumed session's deliveries come before the SUBACK, which waits behind them (Mosquitto under a
/// backlog). The connection delivers, so it is up: found in review, <c>/health</c> said "ingest down" for as long as the
/// SUBACK waited, which under a backlog is the whole drain.
/// </summary>
public sealed class SubackBehindBacklogEndToEndTests(SubackBehindBacklogFixture service) : IClassFixture<SubackBehindBacklogFixture>
{
    [Fact]
    public async Task WhileTheSubackWaitsBehindDeliveries_TheSubscriberCountsAsUp_AndKeepsItsConnection()
    {
        const string id = "suback-dev-1";
        await using var device = await TestDevice.ConnectAsync(service.BrokerPort, id, MqttProtocolVersion.V500, null, $"devices/{id}/ack");
        await device.PublishAsync($"devices/{id}/telemetry", BrokerStallEndToEndTests.Telemetry(id, 0));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0");
        var unanswered = (await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "stats")).GetProperty("subscriber").GetProperty("unanswered").GetInt64();
        var connects = service.SubscriberConnects;

        var hold = service.HoldNextSubscribe();
        await service.KickSubscriberAsync();
        await device.PublishAsync($"devices/{id}/telemetry", BrokerStallEndToEndTests.Telemetry(id, 1));
        await device.PublishAsync($"devices/{id}/telemetry", BrokerStallEndToEndTests.Telemetry(id, 2));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 2, "ack of seq 2, delivered before the SUBACK");

        await service.WaitForTextAsync("/health", h => h == "Healthy", "healthy while the SUBACK is held");
        Assert.Equal(1, service.SubscribesHeld);
        Assert.False(hold.Task.IsCompleted);
        hold.SetResult();

        await device.PublishAsync($"devices/{id}/telemetry", BrokerStallEndToEndTests.Telemetry(id, 3));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 3, "ack of seq 3 after the SUBACK");
        Assert.Equal(connects + 1, service.SubscriberConnects);
        var stats = await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "stats");
        Assert.Equal(unanswered, stats.GetProperty("subscriber").GetProperty("unanswered").GetInt64());
    }
}
