namespace Telemetry.Ingest.Uplink;

/// <summary>A reading as decoded: its timestamp, its slice of the shared metric buffer, or why it was rejected.</summary>
internal struct DecodedReading
{
    public long TimestampMs;
    public int MetricStart;
    public int MetricCount;
    public RejectReason Reason;
    public string? Detail;
}
