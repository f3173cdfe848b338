namespace Telemetry.Grains.Ingest;

/// <summary>Identifies a telemetry message of a device: its boot id and sequence number.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.message-key")]
public readonly record struct MessageKey([property: Id(0)] string Boot, [property: Id(1)] uint Seq);
