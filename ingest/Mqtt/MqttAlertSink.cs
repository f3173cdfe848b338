using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Storage;
using Telemetry.Ingest.Uplink;
using Telemetry.Ingest.Webhooks;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// Where grains' alert events go in this host: the HTTP feed, <c>alerts/{device}</c> on MQTT, the
/// <c>maintenance_alert</c> measurement of the time-series store, and the webhooks' durable queue (and, in a cluster, the
/// other instances' live feeds, best effort). It completes only
/// when every one of them has the event, and throws otherwise: the device twin keeps the event in its outbox and
/// calls again, so each destination gets it at least once (the feed and the webhook queue drop repeats by event id).
/// </summary>
internal sealed class MqttAlertSink(
    AlertFeed feed, MqttOutbox outbox, IReadingStore store, WebhookSender webhooks, ClusterFeedRelay relay, Summary.ActivityTally tally, AlertMetrics metrics) : IAlertSink
{
    /// <summary>How long the broker may take to acknowledge an alert before the twin retries it.</summary>
    private static readonly TimeSpan BrokerTimeout = TimeSpan.FromSeconds(5);

    public async ValueTask PublishAsync(AlertEvent alert, CancellationToken cancellationToken)
    {
        feed.Add(alert);
        var payload = ReplyJson.Alert(alert);
        await outbox.PublishAcknowledgedAsync(new OutboundMessage(DeviceTopics.Alerts(alert.Device), payload), BrokerTimeout, cancellationToken);
        var lines = new LineProtocol(1024);
        WriteLine(lines, alert);
        if (!await store.StoreAsync(lines.Written, lines.LineCount, cancellationToken))
        {
            throw new InvalidOperationException($"The store did not take the maintenance_alert line of {alert.EventId}.");
        }

        await webhooks.EnqueueAsync(alert, payload, cancellationToken);
        if (alert.State == AlertState.Raised)
        {
            tally.AlertRaised();
        }

        metrics.Delivered(alert);
        // Last, and best effort: the other instances' live feeds.
        await relay.ShareAsync(alert);
    }

    /// <summary>
    /// One point per state change: tags device, kind, model, batch, code, severity and state; fields the
    /// alert id, the wearer's message, and the evidence (numbers as floats, texts as strings).
    /// </summary>
    internal static void WriteLine(LineProtocol lines, AlertEvent alert)
    {
        lines.Measurement("maintenance_alert")
            .Tag("device", alert.Device).Tag("kind", alert.Kind).Tag("model", alert.Model).Tag("batch", alert.Batch)
            .Tag("code", alert.Code).Tag("severity", alert.Severity.ToString().ToLowerInvariant())
            .Tag("state", alert.State.ToString().ToLowerInvariant())
            .Field("id", alert.Id).Field("message", alert.Message);
        foreach (var item in alert.Evidence)
        {
            if (item.Number is { } number && double.IsFinite(number))
            {
                lines.Field(item.Key, number);
            }
            else if (item.Text is { } text)
            {
                lines.Field(item.Key, text);
            }
        }

        lines.End(alert.At.ToUnixTimeMilliseconds());
    }
}
