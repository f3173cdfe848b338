namespace Telemetry.Grains.Ingest;

/// <summary>
/// A handled telemetry message inside a <see cref="TelemetryBatch"/> and the slice of the batch's readings
/// it contributed. A message rejected as a whole has no readings but still counts for the ack. <paramref name="Known"/>:
/// the pipeline has already accounted for this delivery (a redelivery it recognised, or a message it rejected), so the
/// grain does not report it among the duplicates the pipeline could not see.
/// </summary>
[GenerateSerializer, Immutable, Alias("telemetry.batch-message")]
public readonly record struct BatchMessage(
    [property: Id(0)] MessageKey Key,
    [property: Id(1)] int FirstReading,
    [property: Id(2)] int ReadingCount,
    [property: Id(3)] int RejectedReadings,
    [property: Id(4)] bool Known = false);
