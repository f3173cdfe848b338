namespace Telemetry.Ingest.Uplink;

/// <summary>Storage type of a metric. An InfluxDB field keeps its first type forever, so this never changes.</summary>
internal enum MetricType : byte
{
    Float,
    Integer,
}
