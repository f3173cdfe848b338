namespace Telemetry.Grains.Ingest;

/// <summary>
/// An accepted reading inside a <see cref="TelemetryBatch"/>: its device timestamp and a slice of the
/// batch's shared metric array, so a batch of many readings is two arrays rather than one object each.
/// </summary>
[GenerateSerializer, Immutable, Alias("telemetry.reading")]
public readonly record struct ReadingRecord(
    [property: Id(0)] long TimestampMs,
    [property: Id(1)] int MetricStart,
    [property: Id(2)] int MetricCount);
