using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Api;

namespace Telemetry.Ingest.Mqtt;

/// <summary>Where grains' alert events go in this host: the HTTP feed, and <c>alerts/{device}</c> on MQTT.</summary>
internal sealed class MqttAlertSink(AlertFeed feed, MqttOutbox outbox) : IAlertSink
{
    public ValueTask PublishAsync(AlertEvent alert, CancellationToken cancellationToken)
    {
        feed.Add(alert);
        return outbox.EnqueueAlertAsync(alert, cancellationToken);
    }
}
