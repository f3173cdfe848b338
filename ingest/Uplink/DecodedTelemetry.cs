using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Uplink;

/// <summary>
/// Reusable scratch space for one decoded telemetry message. A pipeline partition owns one and decodes
/// every message into it, so steady-state decoding allocates nothing per reading.
/// </summary>
internal sealed class DecodedTelemetry
{
    public const int MaxReadings = 500;
    public const int MaxMetricsPerReading = 32;

    public DecodedReading[] Readings { get; } = new DecodedReading[MaxReadings];

    public MetricValue[] Metrics { get; } = new MetricValue[MaxReadings * MaxMetricsPerReading];

    public int ReadingCount { get; set; }

    public int MetricCount { get; set; }

    public int? Version { get; set; }

    public string? Boot { get; set; }

    public uint? Seq { get; set; }

    /// <summary>Set when the whole message is rejected; <see cref="Detail"/> says why.</summary>
    public RejectReason Reason { get; set; }

    public string? Detail { get; set; }

    /// <summary>Readings rejected individually.</summary>
    public int RejectedReadings { get; set; }

    public ReadOnlySpan<DecodedReading> ReadingSpan => Readings.AsSpan(0, ReadingCount);

    public void Reset()
    {
        ReadingCount = 0;
        MetricCount = 0;
        Version = null;
        Boot = null;
        Seq = null;
        Reason = RejectReason.None;
        Detail = null;
        RejectedReadings = 0;
    }
}
