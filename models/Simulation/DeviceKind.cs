namespace Telemetry.Models.Simulation;

/// <summary>The two product families the uplink contract knows.</summary>
public enum DeviceKind
{
    Shoe,
    Band,
}
