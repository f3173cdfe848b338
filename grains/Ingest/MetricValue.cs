namespace Telemetry.Grains.Ingest;

/// <summary>One metric of a reading. Names of catalogue metrics are interned strings, so no copy is made.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.metric-value")]
public readonly record struct MetricValue([property: Id(0)] string Name, [property: Id(1)] double Value);
