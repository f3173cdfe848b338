namespace Telemetry.Grains.Alerts;

/// <summary>
/// Where grains hand alert events. The host decides what that means (MQTT, the HTTP feed); grains know
/// nothing of either. Implementations must apply backpressure rather than drop.
/// </summary>
public interface IAlertSink
{
    ValueTask PublishAsync(AlertEvent alert, CancellationToken cancellationToken);
}
