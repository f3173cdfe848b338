namespace Telemetry.Grains.Alerts;

/// <summary>One step in an alert's history: its new state, when, who (<c>system</c> for the service), and why.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.alert-transition")]
public sealed record AlertTransition(
    [property: Id(0)] AlertState State,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Actor,
    [property: Id(3)] string? Note);
