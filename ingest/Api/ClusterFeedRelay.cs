using Microsoft.Extensions.Options;
using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Hosting;

namespace Telemetry.Ingest.Api;

/// <summary>
/// In a cluster, makes this instance's live alert feed (<c>GET /api/alerts/stream</c>) carry every instance's alerts:
/// each alert event delivered here is shared through <see cref="IAlertBroadcastGrain"/>, and this instance's feed
/// subscribes to it (renewed every 10 s), so an SSE client sees the whole fleet whichever instance it reached. The feed
/// drops an event it already holds, so its own events coming back change nothing. Best effort: a share that fails is
/// logged, not retried, and the event is still on MQTT, in the alert index and at the webhooks. A single node does
/// nothing here.
/// </summary>
internal sealed partial class ClusterFeedRelay(
    IGrainFactory grains, AlertFeed feed, IOptions<SiloOptions> silo, TimeProvider time, ILogger<ClusterFeedRelay> logger)
    : BackgroundService, IAlertFeedObserver
{
    /// <summary>How often the subscription is renewed: well inside its expiry, and soon after the broadcast grain moved
    /// to another silo (its subscriptions are in memory and start empty there).</summary>
    internal static readonly TimeSpan Renew = TimeSpan.FromSeconds(10);

    private bool Clustered => silo.Value.Clustered;

    /// <summary>Shares an event delivered on this instance with the other instances' feeds. Never throws.</summary>
    public async ValueTask ShareAsync(AlertEvent alert)
    {
        if (!Clustered)
        {
            return;
        }

        try
        {
            await grains.GetGrain<IAlertBroadcastGrain>(0).PublishAsync(alert);
        }
        catch (Exception e)
        {
            LogShareFailed(logger, e, alert.EventId);
        }
    }

    public Task OnAlertAsync(AlertEvent alert)
    {
        feed.Add(alert);
        return Task.CompletedTask;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Clustered)
        {
            return;
        }

        var self = grains.CreateObjectReference<IAlertFeedObserver>(this);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await grains.GetGrain<IAlertBroadcastGrain>(0).SubscribeAsync(self);
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                // Cut off by the stop: the subscription expires on its own.
                return;
            }
            catch (Exception e)
            {
                // A cancellation too (a call Orleans gave up on): retried like any failure, where thrown on it ended the
                // relay, cancelled, before any stop, which the host logs as a failed BackgroundService.
                LogSubscribeFailed(logger, e);
            }

            try
            {
                await Task.Delay(Renew, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not share alert event {EventId} with the other instances' live feeds")]
    private static partial void LogShareFailed(ILogger logger, Exception exception, string eventId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not subscribe this instance's live alert feed to the cluster's; trying again in 10 s")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception);
}
