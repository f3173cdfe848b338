using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// What a partition remembers of a device between rounds: the messages its grain has confirmed (a cache of the
/// grain's own dedupe state, so redeliveries skip decoding into a batch), its rate-limit buckets, the birth that
/// tags its stored readings, and the metric names outside the catalogue it has introduced.
/// </summary>
internal sealed class DeviceCache
{
    private TokenBucket _messages;
    private TokenBucket _births;

    public DeviceProgress Confirmed { get; } = new();

    /// <summary>Whether the twin's profile (birth and metric names) has been asked of the grain.</summary>
    public bool Learned { get; set; }

    /// <summary>The birth the grain holds (kind, model and batch for the stored readings' tags); null until known.</summary>
    public DeviceBirth? Birth { get; set; }

    /// <summary>Metric names outside the catalogue this device has sent, for the cap on them.</summary>
    public HashSet<string> CustomMetrics { get; } = new(StringComparer.Ordinal);

    public bool TryTakeMessage(long nowMs, double perSecond, double burst) => _messages.TryTake(nowMs, perSecond, burst);

    public bool TryTakeBirth(long nowMs, double perHour, double burst) => _births.TryTake(nowMs, perHour / 3600, burst);
}
