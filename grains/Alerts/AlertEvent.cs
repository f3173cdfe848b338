namespace Telemetry.Grains.Alerts;

/// <summary>
/// One state change of a maintenance alert, as published on <c>alerts/{device}</c>. Every change of the
/// same alert carries the same <see cref="Id"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("telemetry.alert-event")]
public sealed record AlertEvent
{
    /// <summary>A ULID: unique, and sorts by the time the alert was raised.</summary>
    [Id(0)] public required string Id { get; init; }

    [Id(1)] public required string Device { get; init; }

    [Id(2)] public string? Kind { get; init; }

    [Id(3)] public string? Model { get; init; }

    [Id(4)] public string? Batch { get; init; }

    /// <summary>A stable code such as <c>shoe.cushioning.replace_soon</c>.</summary>
    [Id(5)] public required string Code { get; init; }

    [Id(6)] public required AlertSeverity Severity { get; init; }

    [Id(7)] public required AlertState State { get; init; }

    /// <summary>When the service made this change (service time, UTC).</summary>
    [Id(8)] public required DateTimeOffset At { get; init; }

    /// <summary>Plain words for the wearer.</summary>
    [Id(9)] public required string Message { get; init; }

    /// <summary>The numbers behind the message, for engineers and customer service.</summary>
    [Id(10)] public required EvidenceItem[] Evidence { get; init; }

    /// <summary>Who made this change: <c>system</c>, or the after-sales actor who acknowledged or resolved it.</summary>
    [Id(11)] public string Actor { get; init; } = "system";

    /// <summary>The actor's note, if any.</summary>
    [Id(12)] public string? Note { get; init; }

    /// <summary>
    /// This state change's own id, <c>{alert id}:{n}</c> with n counting the device's events: made once, stored with
    /// the event in the twin's outbox, and the same on every retry, so consumers dedupe on it (delivery is at least once).
    /// </summary>
    [Id(13)] public string EventId { get; init; } = string.Empty;
}
