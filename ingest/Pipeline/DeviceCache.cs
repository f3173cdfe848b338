using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// What a partition remembers of a device between rounds: the messages its grain has confirmed (a cache
/// of the grain's own dedupe state, so redeliveries skip decoding into a batch) and its rate-limit bucket, and the birth that tags its stored readings.
/// </summary>
internal sealed class DeviceCache(double burst)
{
    public DeviceProgress Confirmed { get; } = new();

    /// <summary>Kind, model and batch for the stored readings' tags; null until known.</summary>
    public DeviceBirth? Birth { get; set; }

    /// <summary>Whether <see cref="Birth"/> has been asked of the grain (or set by a birth message).</summary>
    public bool BirthKnown { get; set; }

    private double _tokens = burst;
    private long _refilledAt = long.MinValue;

    /// <summary>Token bucket: <paramref name="perSecond"/> sustained, <paramref name="burst"/> at once.</summary>
    public bool TryTake(long nowMs, double perSecond, double burst)
    {
        if (_refilledAt != long.MinValue)
        {
            _tokens = Math.Min(burst, _tokens + ((nowMs - _refilledAt) / 1000.0 * perSecond));
        }

        _refilledAt = nowMs;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}
