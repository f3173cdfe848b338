namespace Telemetry.Ingest.Pipeline;

/// <summary>A token bucket: <c>perSecond</c> sustained, <c>burst</c> at once; full until first used.</summary>
internal struct TokenBucket
{
    private double _tokens;
    private long _refilledAt;
    private bool _started;

    public bool TryTake(long nowMs, double perSecond, double burst)
    {
        _tokens = _started ? Math.Min(burst, _tokens + ((nowMs - _refilledAt) / 1000.0 * perSecond)) : burst;
        _started = true;
        _refilledAt = nowMs;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}
