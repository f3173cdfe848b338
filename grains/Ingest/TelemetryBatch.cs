namespace Telemetry.Grains.Ingest;

/// <summary>
/// Everything the pipeline gathered for one device in one round, in device order: the messages it handled
/// and, in two flat arrays, the readings it accepted and their metrics. One grain call carries it all.
/// </summary>
[GenerateSerializer, Immutable, Alias("telemetry.batch")]
public sealed record TelemetryBatch
{
    [Id(0)] public required BatchMessage[] Messages { get; init; }

    [Id(1)] public required ReadingRecord[] Readings { get; init; }

    [Id(2)] public required MetricValue[] Metrics { get; init; }

    /// <summary>The newest birth the device sent in this round, applied before the readings.</summary>
    [Id(3)] public DeviceBirth? Birth { get; init; }

    /// <summary>The caller does not know the twin's profile yet: return it with the result
    /// (<see cref="IngestResult.Profile"/>) instead of a call of its own.</summary>
    [Id(4)] public bool WantsProfile { get; init; }
}
