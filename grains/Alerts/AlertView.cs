namespace Telemetry.Grains.Alerts;

/// <summary>One alert with its full history, for <c>GET /api/alerts/{id}</c> and the answers to ack and resolve.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.alert-view")]
public sealed record AlertView
{
    [Id(0)] public required AlertSummary Summary { get; init; }

    [Id(1)] public required EvidenceItem[] Evidence { get; init; }

    [Id(2)] public required AlertTransition[] History { get; init; }
}

/// <summary>What an ack or resolve request came to.</summary>
public enum AlertChangeOutcome
{
    Changed,
    Unchanged,
    NotFound,
    Conflict,
}

[GenerateSerializer, Immutable, Alias("telemetry.alert-change")]
public sealed record AlertChange(
    [property: Id(0)] AlertChangeOutcome Outcome,
    [property: Id(1)] AlertView? Alert,
    [property: Id(2)] string? Reason);
