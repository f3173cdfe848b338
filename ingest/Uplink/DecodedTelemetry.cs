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

    /// <summary>Whether any accepted metric is outside the catalogue, so the per-device cap on such names needs
    /// checking (most messages carry catalogue metrics only and skip it).</summary>
    public bool HasCustomMetrics { get; set; }

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
        HasCustomMetrics = false;
    }

    /// <summary>Rejects reading <paramref name="index"/> after decoding (a rule that needs the device, such as the
    /// cap on metric names); its metrics stay in <see cref="Metrics"/> but are no longer the reading's.</summary>
    public void RejectReading(int index, RejectReason reason, string detail)
    {
        ref var reading = ref Readings[index];
        if (reading.Reason != RejectReason.None)
        {
            return;
        }

        reading.Reason = reason;
        reading.Detail = detail;
        reading.MetricCount = 0;
        RejectedReadings++;
    }
}
