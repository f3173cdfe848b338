using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Storage;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// Where grains' alert events go in this host: the HTTP feed, <c>alerts/{device}</c> on MQTT, and the
/// <c>maintenance_alert</c> measurement of the time-series store.
/// </summary>
internal sealed class MqttAlertSink(AlertFeed feed, MqttOutbox outbox, IReadingStore store) : IAlertSink
{
    public async ValueTask PublishAsync(AlertEvent alert, CancellationToken cancellationToken)
    {
        feed.Add(alert);
        await outbox.EnqueueAlertAsync(alert, cancellationToken);
        var lines = new LineProtocol(1024);
        WriteLine(lines, alert);
        await store.StoreAsync(lines.Written, lines.LineCount, cancellationToken);
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
