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

    // The grain's latest ack: one boot and its contiguous seq. Messages handled beyond it (past a gap, or of another
    // boot) go into a full progress, created only then: a device without gaps, nearly all of them, holds none. The
    // full copy for every device cost 230 bytes each. A device whose later messages arrived before a lost one
    // resends them all until the gap is filled, and those resends must not be stored twice.
    private string? _ackedBoot;
    private long _ackedSeq = -1;
    private DeviceProgress? _beyond;
    private HashSet<string>? _customMetrics;

    /// <summary>When this partition first found the device's twin without a birth while another instance could be
    /// applying it (<see cref="PipelineOptions.BirthWait"/>), as a <see cref="TimeProvider.GetTimestamp"/> (monotonic:
    /// a clock step neither shortens nor lengthens the wait); 0 when it never did.</summary>
    public long BirthlessSince { get; set; }

    /// <summary>Whether the twin's profile (birth and metric names) has been asked of the grain.</summary>
    public bool Learned { get; set; }

    /// <summary>The birth the grain holds (kind, model and batch for the stored readings' tags); null until known.</summary>
    public DeviceBirth? Birth { get; set; }

    /// <summary>Metric names outside the catalogue this device has sent, for the cap on them (created on first use:
    /// most devices send only catalogue metrics).</summary>
    public HashSet<string> CustomMetrics => _customMetrics ??= new(StringComparer.Ordinal);

    /// <summary>How many metric names outside the catalogue this device has sent, without creating the set.</summary>
    public int CustomMetricCount => _customMetrics?.Count ?? 0;

    /// <summary>Whether the grain has handled <paramref name="key"/> already: at or below its latest ack, or
    /// confirmed beyond it.</summary>
    public bool IsHandled(MessageKey key) =>
        (key.Seq <= _ackedSeq && key.Boot == _ackedBoot) || (_beyond is { } beyond && beyond.IsDuplicate(key));

    /// <summary>Whether handled messages beyond the latest ack are held (for tests).</summary>
    internal bool HoldsBeyondAck => _beyond is not null;

    /// <summary>Takes a message the grain confirmed as handled (after the batch's acks): one above the latest ack is
    /// remembered apart.</summary>
    public void Handled(MessageKey key)
    {
        if (key.Seq > _ackedSeq || key.Boot != _ackedBoot)
        {
            (_beyond ??= new DeviceProgress()).Record(key);
        }
    }

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

        if (_beyond is { } beyond && !beyond.HoldsBeyond(_ackedBoot, _ackedSeq))
        {
            // The gaps are filled: the ack covers everything that was held apart.
            _beyond = null;
        }
    }

    public bool TryTakeMessage(long nowMs, double perSecond, double burst) => _messages.TryTake(nowMs, perSecond, burst);

    public bool TryTakeBirth(long nowMs, double perHour, double burst) => _births.TryTake(nowMs, perHour / 3600, burst);
}
