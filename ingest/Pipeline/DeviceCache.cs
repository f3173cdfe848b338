using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// What a partition remembers of a device between rounds: the last ack its grain gave (so redeliveries at or below
/// it skip the batch), its rate-limit buckets, the birth that tags its stored readings, and the metric names outside
/// the catalogue it has introduced. One is kept per device seen, so it is kept small (about 100 bytes for a
/// device that sends only catalogue metrics).
/// </summary>
internal sealed class DeviceCache
{
    private TokenBucket _messages;
    private TokenBucket _births;

    // The grain's latest ack: one boot and its contiguous seq. Not the grain's whole dedupe state (every boot, runs
    // beyond gaps): that copy cost 230 bytes per device, and what it adds, redeliveries beyond a gap or of an older
    // boot, is rare and still caught by the grain, which is the authority on duplicates.
    private string? _ackedBoot;
    private long _ackedSeq = -1;
    private HashSet<string>? _customMetrics;

    /// <summary>Whether the twin's profile (birth and metric names) has been asked of the grain.</summary>
    public bool Learned { get; set; }

    /// <summary>The birth the grain holds (kind, model and batch for the stored readings' tags); null until known.</summary>
    public DeviceBirth? Birth { get; set; }

    /// <summary>Metric names outside the catalogue this device has sent, for the cap on them (created on first use:
    /// most devices send only catalogue metrics).</summary>
    public HashSet<string> CustomMetrics => _customMetrics ??= new(StringComparer.Ordinal);

    /// <summary>How many metric names outside the catalogue this device has sent, without creating the set.</summary>
    public int CustomMetricCount => _customMetrics?.Count ?? 0;

    /// <summary>Whether the grain has acknowledged <paramref name="key"/> already (at or below its latest ack).</summary>
    public bool IsAcked(MessageKey key) => key.Seq <= _ackedSeq && key.Boot == _ackedBoot;

    /// <summary>Takes an ack the grain returned: the highest contiguous seq of its boot handled so far.</summary>
    public void Acked(MessageKey ack)
    {
        if (ack.Boot == _ackedBoot)
        {
            _ackedSeq = Math.Max(_ackedSeq, ack.Seq);
        }
        else
        {
            _ackedBoot = ack.Boot;
            _ackedSeq = ack.Seq;
        }
    }

    public bool TryTakeMessage(long nowMs, double perSecond, double burst) => _messages.TryTake(nowMs, perSecond, burst);

    public bool TryTakeBirth(long nowMs, double perHour, double burst) => _births.TryTake(nowMs, perHour / 3600, burst);
}
