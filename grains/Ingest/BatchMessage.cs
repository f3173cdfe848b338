namespace Telemetry.Grains.Ingest;

/// <summary>
/// A handled telemetry message inside a <see cref="TelemetryBatch"/> and the slice of the batch's readings
/// it contributed. A message rejected as a whole has no readings but still counts for the ack.
/// </summary>
[GenerateSerializer, Immutable, Alias("telemetry.batch-message")]
public readonly record struct BatchMessage(
    [property: Id(0)] MessageKey Key,
    [property: Id(1)] int FirstReading,
    [property: Id(2)] int ReadingCount,
    [property: Id(3)] int RejectedReadings);
