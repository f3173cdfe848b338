namespace Telemetry.Grains.Alerts;

/// <summary>The lifecycle state an alert event announces. Wire names are lower case.</summary>
[GenerateSerializer, Alias("telemetry.alert-state")]
public enum AlertState
{
    Raised,
    Acknowledged,
    Escalated,
    Resolved,
}
