using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Utilities;

namespace Telemetry.Grains.Alerts;

/// <summary>An instance's live alert feed (the SSE stream), told of alert events delivered on other instances.</summary>
[Alias("telemetry.alert-feed-observer")]
public interface IAlertFeedObserver : IGrainObserver
{
    [Alias("on-alert"), OneWay]
    Task OnAlertAsync(AlertEvent alert);
}

/// <summary>
/// Relays every delivered alert event to the live feeds of all instances of a cluster (key 0), so that an SSE client
/// behind a load balancer sees the whole fleet's alerts whichever instance it reached. Best effort by design: the feed
/// is a live view (MQTT, webhooks and the alert index are the durable destinations). Subscriptions expire after
/// <see cref="AlertBroadcastGrain.Expiry"/> unless renewed; a subscriber renews every few seconds, which also keeps this grain active and
/// brings it back, with its subscribers, on a survivor if its silo dies.
/// </summary>
[Alias("telemetry.alert-broadcast")]
public interface IAlertBroadcastGrain : IGrainWithIntegerKey
{
    [Alias("subscribe")]
    Task SubscribeAsync(IAlertFeedObserver observer);

    [Alias("publish")]
    Task PublishAsync(AlertEvent alert);
}

[GrainType("alert-broadcast"), Reentrant]
internal sealed class AlertBroadcastGrain(ILogger<AlertBroadcastGrain> logger) : Grain, IAlertBroadcastGrain
{
    public static readonly TimeSpan Expiry = TimeSpan.FromMinutes(2);

    private readonly ObserverManager<IAlertFeedObserver> _feeds = new(Expiry, logger);

    public Task SubscribeAsync(IAlertFeedObserver observer)
    {
        _feeds.Subscribe(observer, observer);
        return Task.CompletedTask;
    }

    public Task PublishAsync(AlertEvent alert)
    {
        _feeds.Notify(feed => feed.OnAlertAsync(alert));
        return Task.CompletedTask;
    }
}
