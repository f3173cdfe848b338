namespace Telemetry.Grains.Ingest;

/// <summary>What the ingest pipeline remembers of a device between its messages, as the twin holds it.</summary>
/// <param name="Birth">The last birth, or null if the device has sent none.</param>
/// <param name="Metrics">Every metric name the twin keeps a last value of (catalogue or not).</param>
[GenerateSerializer, Immutable, Alias("telemetry.ingest-profile")]
public sealed record IngestProfile(
    [property: Id(0)] DeviceBirth? Birth,
    [property: Id(1)] string[] Metrics);
