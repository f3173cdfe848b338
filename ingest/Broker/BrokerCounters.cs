using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Telemetry.Ingest.Broker;

/// <summary>
/// What the embedded broker refused, by reason: connections (bad credentials, no credentials, another
/// identity's client id), publishes (outside the client's topics, retained outside a birth) and
/// subscriptions; and how its in-flight window towards the service (<see cref="ServiceWindow"/>) held devices
/// back. Exported on the <c>Telemetry.Broker</c> meter and in <c>/api/ingest/stats</c>.
/// </summary>
internal sealed class BrokerCounters
{
    public const string MeterName = "Telemetry.Broker";

    public const string BadCredentials = "bad_credentials";
    public const string NoCredentials = "no_credentials";
    public const string ClientIdNotOwned = "client_id_not_owned";
    public const string OutsideOwnTopics = "outside_own_topics";
    public const string RetainedOutsideBirth = "retained_outside_birth";
    public const string WildcardInTopic = "wildcard_in_topic";
    public const string RetainedTooLarge = "retained_too_large";

    private readonly ConcurrentDictionary<string, long> _connections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _publishes = new(StringComparer.Ordinal);
    private readonly Counter<long> _refusedConnections;
    private readonly Counter<long> _refusedPublishes;
    private readonly Counter<long> _refusedSubscriptions;
    private long _subscriptions;
    private long _serviceDropped;
    private ServiceWindow? _window;

    public BrokerCounters(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _refusedConnections = meter.CreateCounter<long>("telemetry.broker.connections_refused", description: "CONNECTs refused, by reason");
        _refusedPublishes = meter.CreateCounter<long>("telemetry.broker.publishes_refused", description: "PUBLISHes refused, by reason");
        _refusedSubscriptions = meter.CreateCounter<long>("telemetry.broker.subscriptions_refused", description: "Subscriptions refused");
        meter.CreateObservableGauge("telemetry.broker.service_in_flight", () => _window?.InFlight ?? 0,
            description: "Device messages queued for or sent to the service and not yet acknowledged by it");
        meter.CreateObservableCounter("telemetry.broker.window_waits", () => _window?.Waits ?? 0,
            description: "Device messages that waited for a place in the window towards the service");
        meter.CreateObservableCounter("telemetry.broker.window_paused", () => _window?.Paused.TotalSeconds ?? 0, unit: "s",
            description: "Time device connections spent paused by the window towards the service, summed over connections");
        meter.CreateObservableCounter("telemetry.broker.service_dropped", () => Volatile.Read(ref _serviceDropped),
            description: "Device messages MQTTnet dropped from the service's full queue (devices resend them)");
    }

    public IReadOnlyDictionary<string, long> ConnectionsRefused => new SortedDictionary<string, long>(_connections, StringComparer.Ordinal);

    public IReadOnlyDictionary<string, long> PublishesRefused => new SortedDictionary<string, long>(_publishes, StringComparer.Ordinal);

    public long SubscriptionsRefused => Volatile.Read(ref _subscriptions);

    /// <summary>Size of the window towards the service; null when the broker is not embedded (or not started).</summary>
    public int? WindowSize => _window?.Size;

    /// <summary>Device messages queued for or sent to the service and not yet acknowledged by it.</summary>
    public int ServiceInFlight => _window?.InFlight ?? 0;

    /// <summary>Device connections paused by the window now.</summary>
    public int WindowWaiting => _window?.Waiting ?? 0;

    /// <summary>Device messages that waited for a place in the window.</summary>
    public long WindowWaits => _window?.Waits ?? 0;

    /// <summary>Time device connections spent paused by the window, summed over connections.</summary>
    public TimeSpan WindowPaused => _window?.Paused ?? TimeSpan.Zero;

    /// <summary>Device messages MQTTnet dropped from the service's full queue (MaxPendingMessagesPerClient).</summary>
    public long ServiceDropped => Volatile.Read(ref _serviceDropped);

    /// <summary>The embedded broker's window, read for the figures above.</summary>
    public void Observe(ServiceWindow window) => _window = window;

    public void ServiceMessageDropped() => Interlocked.Increment(ref _serviceDropped);

    public void ConnectionRefused(string reason)
    {
        _connections.AddOrUpdate(reason, 1, (_, n) => n + 1);
        _refusedConnections.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void PublishRefused(string reason)
    {
        _publishes.AddOrUpdate(reason, 1, (_, n) => n + 1);
        _refusedPublishes.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void SubscriptionRefused()
    {
        Interlocked.Increment(ref _subscriptions);
        _refusedSubscriptions.Add(1);
    }
}
