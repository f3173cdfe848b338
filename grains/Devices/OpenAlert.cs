using Telemetry.Grains.Alerts;

namespace Telemetry.Grains.Devices;

/// <summary>An alert that is raised and not yet resolved.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.open-alert")]
public sealed record OpenAlert(
    [property: Id(0)] string Id,
    [property: Id(1)] string Code,
    [property: Id(2)] AlertSeverity Severity,
    [property: Id(3)] DateTimeOffset RaisedAt,
    [property: Id(4)] string Message);
