using System.Collections;
using System.Collections.Concurrent;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Telemetry.Ingest.Broker;

/// <summary>
/// The embedded broker's in-flight window towards the service. MQTTnet 5.2's server ignores the Receive
/// Maximum a client announces and sends a subscriber everything it has, and MQTTnet's client queues what it
/// receives without a bound while its handler is busy; so a slow store used to fill the service's memory with
/// unacknowledged messages (4 GB in 60 s, issue #11). Here every device message bound for a service session
/// takes a place in one window before MQTTnet routes it, and gives it back when the service acknowledges it.
/// While the window is full, the publishing device's connection waits in <c>InterceptingPublishAsync</c>:
/// MQTTnet handles one connection's packets in order, so that device is simply not read (TCP backpressure) and
/// gets no PUBACK; nothing is dropped. The same window bounds what queues in the service's persistent session
/// while the service is away.
/// </summary>
/// <remarks>
/// Bookkeeping, all through MQTTnet's public events: a place is reserved in the publish interceptor (keyed by
/// the message object, which MQTTnet hands unchanged to the enqueue event); the enqueue event for a service
/// session moves it to that session; the session's acknowledgement (PUBACK, or PUBCOMP for QoS 2) gives it
/// back. A reservation that no service session took (no subscriber after all) is given back when its sender
/// publishes again or disconnects: MQTTnet has finished routing a connection's message before it reads the
/// next. A session deleted or replaced by a clean start gives back all it held.
/// A message the service leaves unacknowledged keeps its place until the service acknowledges it, after a
/// redelivery if need be, as with Mosquitto's Receive Maximum: a service that stops acknowledging stops ingest
/// once the window is full, and memory stays bounded.
/// </remarks>
internal sealed class ServiceWindow(int size, string servicePrefix, BrokerCounters counters, TimeProvider time)
{
    /// <summary>Session item: the <see cref="Holder"/> of a service session, which lives as long as the session.</summary>
    private const string HolderKey = "telemetry.window.holder";

    /// <summary>Session item of a publishing client: the message of its last reservation.</summary>
    private const string ReservationKey = "telemetry.window.reservation";

    private readonly InFlightWindow _window = new(size, time);

    /// <summary>Messages with a reserved place that no service session has queued yet.</summary>
    private readonly ConcurrentDictionary<MqttApplicationMessage, byte> _reserved = new(ReferenceEqualityComparer.Instance);

    /// <summary>The current session of each service client id.</summary>
    private readonly ConcurrentDictionary<string, Holder> _holders = new(StringComparer.Ordinal);

    /// <summary>Whether any service session has subscribed: until then no device message queues for the service.</summary>
    private volatile bool _serviceSubscribed;

    public int Size => size;

    /// <summary>Places taken: messages reserved or queued for the service and not yet acknowledged by it.</summary>
    public int InFlight => _window.Used;

    /// <summary>Device connections waiting for a place now.</summary>
    public int Waiting => _window.Waiting;

    /// <summary>Messages that waited for a place.</summary>
    public long Waits => _window.Waits;

    /// <summary>Time devices spent waiting for a place, summed over connections.</summary>
    public TimeSpan Paused => _window.Paused;

    public void Attach(MqttServer server)
    {
        server.ClientSubscribedTopicAsync += OnSubscribedAsync;
        server.ClientConnectedAsync += OnConnectedAsync;
        server.ApplicationMessageEnqueuedOrDroppedAsync += OnEnqueuedAsync;
        server.ClientAcknowledgedPublishPacketAsync += OnAcknowledgedAsync;
        server.SessionDeletedAsync += OnSessionDeletedAsync;
        server.ClientDisconnectedAsync += OnDisconnectedAsync;
    }

    /// <summary>
    /// Called by the publish interceptor for a PUBLISH it allowed, before MQTTnet routes it: waits for a place
    /// when the message is bound for the service. False when the sender went away while waiting (the
    /// connection's token): the message must then not be routed.
    /// </summary>
    public async ValueTask<bool> EnterAsync(ClientIdentity sender, MqttApplicationMessage message, IDictionary senderItems, CancellationToken cancellationToken)
    {
        // The previous message of this connection has been routed by now; a place nobody took goes back.
        ReleaseUnclaimed(senderItems);
        if (sender.Role == ClientRole.Service || !IsTracked(message.Topic, message.QualityOfServiceLevel) || !_serviceSubscribed)
        {
            // The service's own publishes (acks, alerts) never wait here; without a service session nothing queues.
            return true;
        }

        try
        {
            await _window.EnterAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        _reserved[message] = 0;
        senderItems[ReservationKey] = message;
        return true;
    }

    /// <summary>Whether MQTTnet keeps a routed message for the service until acknowledged: device data at QoS 1 or 2
    /// (the service subscribes to both at QoS 1).</summary>
    private static bool IsTracked(string topic, MqttQualityOfServiceLevel qos) =>
        qos != MqttQualityOfServiceLevel.AtMostOnce && IsDeviceData(topic);

    private static bool IsDeviceData(string topic) =>
        topic.StartsWith("devices/", StringComparison.Ordinal)
        && (topic.EndsWith("/telemetry", StringComparison.Ordinal) || topic.EndsWith("/birth", StringComparison.Ordinal))
        && topic.AsSpan("devices/".Length).Count('/') == 1;

    private Task OnConnectedAsync(ClientConnectedEventArgs e)
    {
        // Raised before MQTTnet reads the connection's first packet, so every message queued for a service session
        // finds its holder. A resumed session keeps its items and so its holder; a new one (first connect, or a
        // clean start, which replaces the session without a SessionDeleted event) gets a new holder, and the places
        // of the session it replaced go back: its queue is gone.
        if (BrokerAccess.IsServiceClientId(e.ClientId, servicePrefix))
        {
            if (e.SessionItems[HolderKey] is not Holder holder)
            {
                holder = new Holder();
                e.SessionItems[HolderKey] = holder;
            }

            var old = _holders.GetOrAdd(e.ClientId, holder);
            if (!ReferenceEquals(old, holder) && _holders.TryUpdate(e.ClientId, holder, old))
            {
                _window.Release(old.Clear());
                Recompute();
            }
        }

        return Task.CompletedTask;
    }

    private Task OnSubscribedAsync(ClientSubscribedTopicEventArgs e)
    {
        if (e.SessionItems[HolderKey] is Holder holder && IsDeviceFilter(e.TopicFilter.Topic))
        {
            holder.Subscribed = true;
            Recompute();
        }

        return Task.CompletedTask;
    }

    private Task OnEnqueuedAsync(ApplicationMessageEnqueuedEventArgs e)
    {
        if (!BrokerAccess.IsServiceClientId(e.ReceiverClientId, servicePrefix)
            || !IsTracked(e.ApplicationMessage.Topic, e.ApplicationMessage.QualityOfServiceLevel))
        {
            return Task.CompletedTask;
        }

        var reserved = _reserved.TryRemove(e.ApplicationMessage, out _);
        if (e.IsDropped)
        {
            // Over MaxPendingMessagesPerClient: MQTTnet still answers the device with success. The device resends
            // what the service never acknowledges on devices/{id}/ack, so this delays data; it is counted.
            counters.ServiceMessageDropped();
            if (reserved)
            {
                _window.Release();
            }

            return Task.CompletedTask;
        }

        if (!reserved)
        {
            // Queued without a reservation (a second service session, or a reservation already given back): it is
            // in the session all the same, so it is counted, over the window if need be.
            _window.Take();
        }

        if (_holders.TryGetValue(e.ReceiverClientId, out var holder))
        {
            holder.Add();
        }

        return Task.CompletedTask;
    }

    private Task OnAcknowledgedAsync(ClientAcknowledgedPublishPacketEventArgs e)
    {
        // Retained births sent at subscription time arrive with the retain flag and were never counted; routed
        // messages carry it cleared (the service does not subscribe with retain-as-published).
        if (e.IsCompleted && !e.PublishPacket.Retain && e.SessionItems[HolderKey] is Holder holder
            && IsDeviceData(e.PublishPacket.Topic))
        {
            holder.Remove();
            _window.Release();
        }

        return Task.CompletedTask;
    }

    private Task OnSessionDeletedAsync(SessionDeletedEventArgs e)
    {
        if (e.SessionItems[HolderKey] is Holder holder)
        {
            _holders.TryRemove(new KeyValuePair<string, Holder>(e.Id, holder));
            _window.Release(holder.Clear());
            Recompute();
        }

        return Task.CompletedTask;
    }

    private Task OnDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        ReleaseUnclaimed(e.SessionItems);
        return Task.CompletedTask;
    }

    private void ReleaseUnclaimed(IDictionary senderItems)
    {
        if (senderItems[ReservationKey] is MqttApplicationMessage previous)
        {
            senderItems.Remove(ReservationKey);
            if (_reserved.TryRemove(previous, out _))
            {
                _window.Release();
            }
        }
    }

    private void Recompute() => _serviceSubscribed = _holders.Values.Any(h => h.Subscribed);

    /// <summary>A filter that can match device data: <c>devices/…</c>, or one starting with a wildcard.</summary>
    private static bool IsDeviceFilter(string filter) =>
        filter.StartsWith("devices/", StringComparison.Ordinal) || filter.StartsWith('#') || filter.StartsWith('+');

    /// <summary>What one service session holds of the window: messages queued for it or sent and not acknowledged.</summary>
    private sealed class Holder
    {
        private int _held;

        /// <summary>The session has a subscription that device data can match.</summary>
        public bool Subscribed { get; set; }

        public void Add() => Interlocked.Increment(ref _held);

        /// <summary>May go below zero for a moment: the service can acknowledge a message before MQTTnet raises
        /// the enqueue event that counts it.</summary>
        public void Remove() => Interlocked.Decrement(ref _held);

        /// <summary>Empties the holder; returns what it held.</summary>
        public int Clear() => Math.Max(0, Interlocked.Exchange(ref _held, 0));
    }
}
