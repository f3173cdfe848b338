namespace Telemetry.Grains.Alerts;

/// <summary>An alert's current state, as the alert index keeps it for listing and filtering.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.alert-summary")]
public sealed record AlertSummary
{
    [Id(0)] public required string Id { get; init; }

    [Id(1)] public required string Device { get; init; }

    [Id(2)] public string? Kind { get; init; }

    [Id(3)] public string? Model { get; init; }

    [Id(4)] public string? Batch { get; init; }

    [Id(5)] public required string Code { get; init; }

    [Id(6)] public required AlertSeverity Severity { get; init; }

    [Id(7)] public required AlertState State { get; init; }

    [Id(8)] public required DateTimeOffset RaisedAt { get; init; }

    [Id(9)] public required DateTimeOffset UpdatedAt { get; init; }

    [Id(10)] public required string Message { get; init; }
}

/// <summary>Filters of <c>GET /api/alerts</c>; null means any.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.alert-filter")]
public sealed record AlertFilter
{
    [Id(0)] public AlertState? State { get; init; }

    [Id(1)] public AlertSeverity? Severity { get; init; }

    [Id(2)] public string? Code { get; init; }

    [Id(3)] public string? Model { get; init; }

    [Id(4)] public string? Batch { get; init; }

    [Id(5)] public string? Device { get; init; }

    public bool Matches(AlertSummary a) =>
        (State is null || a.State == State) && (Severity is null || a.Severity == Severity) && (Code is null || a.Code == Code)
        && (Model is null || a.Model == Model) && (Batch is null || a.Batch == Batch) && (Device is null || a.Device == Device);
}

/// <summary>One page of alerts, newest first, and how many match in all.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.alert-page")]
public sealed record AlertPage([property: Id(0)] AlertSummary[] Items, [property: Id(1)] int Total);
