namespace Telemetry.Ingest.Uplink;

/// <summary>The top-level fields of a telemetry message, as flags of the ones a decoder has seen.</summary>
[Flags]
internal enum TelemetryField
{
    None = 0,
    Version = 1,
    Boot = 2,
    Seq = 4,
    Readings = 8,
}
