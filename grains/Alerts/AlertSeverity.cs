namespace Telemetry.Grains.Alerts;

/// <summary>How urgently a maintenance alert needs attention. Wire names are lower case.</summary>
[GenerateSerializer, Alias("telemetry.alert-severity")]
public enum AlertSeverity
{
    Info,
    Warning,
    Critical,
}
