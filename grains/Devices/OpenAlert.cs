using Telemetry.Grains.Alerts;

namespace Telemetry.Grains.Devices;

/// <summary>An alert of this device: open (raised, acknowledged, escalated) or recently resolved, with its history.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.open-alert")]
public sealed record OpenAlert(
    [property: Id(0)] string Id,
    [property: Id(1)] string Code,
    [property: Id(2)] AlertSeverity Severity,
    [property: Id(3)] DateTimeOffset RaisedAt,
    [property: Id(4)] string Message)
{
    [Id(5)] public AlertState State { get; init; } = AlertState.Raised;

    [Id(6)] public AlertTransition[] History { get; init; } = [];

    [Id(7)] public EvidenceItem[] Evidence { get; init; } = [];

    [Id(8)] public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The language its message was raised in (<see cref="AlertLocales"/>), fixed at raise time: every later
    /// word of this alert (superseded, recovered, part replaced) is in it too, whatever the device's birth says by then.
    /// Null for alerts stored before messages had languages, which were all English.</summary>
    [Id(9)] public string? Locale { get; init; }

    /// <summary>This alert after a transition.</summary>
    public OpenAlert Then(AlertState state, DateTimeOffset at, string actor, string? note) => this with
    {
        State = state,
        UpdatedAt = at,
        History = [.. History, new AlertTransition(state, at, actor, note)],
    };
}
