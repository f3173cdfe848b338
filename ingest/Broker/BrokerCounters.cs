using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Telemetry.Ingest.Broker;

/// <summary>
/// What the embedded broker refused, by reason: connections (bad credentials, no credentials, another
/// identity's client id), publishes (outside the client's topics, retained outside a birth) and
/// subscriptions. Exported on the <c>Telemetry.Broker</c> meter and in <c>/api/ingest/stats</c>.
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

    public BrokerCounters(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _refusedConnections = meter.CreateCounter<long>("telemetry.broker.connections_refused", description: "CONNECTs refused, by reason");
        _refusedPublishes = meter.CreateCounter<long>("telemetry.broker.publishes_refused", description: "PUBLISHes refused, by reason");
        _refusedSubscriptions = meter.CreateCounter<long>("telemetry.broker.subscriptions_refused", description: "Subscriptions refused");
    }

    public IReadOnlyDictionary<string, long> ConnectionsRefused => new SortedDictionary<string, long>(_connections, StringComparer.Ordinal);

    public IReadOnlyDictionary<string, long> PublishesRefused => new SortedDictionary<string, long>(_publishes, StringComparer.Ordinal);

    public long SubscriptionsRefused => Volatile.Read(ref _subscriptions);

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
