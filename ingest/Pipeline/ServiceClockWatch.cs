using Microsoft.Extensions.Diagnostics.HealthChecks;
using Telemetry.Ingest.Hosting;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// Tells "the service's clock is slow" from "one device's clock is fast". A reading ahead of service time is
/// rejected (<c>timestamp_in_future</c>) and its message acknowledged, so the device deletes it: right for one
/// device with a wrong clock, data loss if the service's clock is the wrong one. So nothing ahead is rejected at
/// first sight: a device's messages with readings ahead are held unacknowledged (and retried) for a probation of
/// <see cref="PipelineOptions.ClockSuspectWindow"/>. When readings ahead come from
/// <see cref="PipelineOptions.ClockSuspectDevices"/> distinct devices within that window, the service suspects its
/// own clock: such messages stay held until the suspicion lapses, and <c>/health</c> says so under "clock". A
/// device still alone in being ahead when its probation ends has a wrong clock: its readings are rejected as final.
/// Shared by every partition.
/// </summary>
internal sealed partial class ServiceClockWatch(PipelineOptions options, ComponentHealth? health, ILogger logger)
{
    public const string Component = "clock";

    private readonly Lock _lock = new();
    /// <summary>Per device ahead of service time: when first and last seen so (service time, Unix ms).</summary>
    private readonly Dictionary<string, (long First, long Last)> _aheadAt = new(StringComparer.Ordinal);
    private readonly long _windowMs = (long)options.ClockSuspectWindow.TotalMilliseconds;
    private long _maxAheadMs;
    private long _suspectSinceMs;
    private volatile bool _suspect;

    /// <summary>True while the service suspects its own clock of running slow.</summary>
    public bool IsSuspect => _suspect;

    /// <summary>
    /// Records that <paramref name="deviceId"/> sent a reading <paramref name="aheadMs"/> ahead of service time
    /// <paramref name="nowMs"/>; returns true when the message must be held: the service clock is suspect, or the
    /// device is still within its probation (it may yet turn out that the service's clock is the wrong one).
    /// </summary>
    public bool Ahead(string deviceId, long nowMs, long aheadMs)
    {
        lock (_lock)
        {
            var first = _aheadAt.TryGetValue(deviceId, out var seen) ? seen.First : nowMs;
            _aheadAt[deviceId] = (first, nowMs);
            _maxAheadMs = Math.Max(_maxAheadMs, aheadMs);
            Evaluate(nowMs);
            return _suspect || nowMs - first < _windowMs;
        }
    }

    /// <summary>Lets a suspicion lapse once no device has been ahead for a window (the clock was fixed).</summary>
    public void Refresh(long nowMs)
    {
        if (!_suspect)
        {
            return;
        }

        lock (_lock)
        {
            Evaluate(nowMs);
        }
    }

    private void Evaluate(long nowMs)
    {
        foreach (var (device, at) in _aheadAt)
        {
            if (nowMs - at.Last > _windowMs)
            {
                _aheadAt.Remove(device);
            }
        }

        if (_aheadAt.Count >= options.ClockSuspectDevices)
        {
            if (!_suspect)
            {
                _suspect = true;
                _suspectSinceMs = nowMs;
                LogClockSuspect(logger, _aheadAt.Count, _maxAheadMs / 1000.0, options.ClockSuspectWindow);
            }

            health?.Report(Component, HealthStatus.Degraded, FormattableString.Invariant(
                $"{_aheadAt.Count} devices sent readings up to {_maxAheadMs / 1000.0:0.#} s ahead of the service clock within {options.ClockSuspectWindow}; the service clock looks slow (since {DateTimeOffset.FromUnixTimeMilliseconds(_suspectSinceMs):O}): their messages are held unacknowledged, not rejected"));
        }
        else if (_suspect && _aheadAt.Count == 0)
        {
            _suspect = false;
            _maxAheadMs = 0;
            LogClockTrusted(logger);
            health?.Clear(Component);
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "The service clock looks slow: {Devices} devices sent readings up to {AheadSeconds} s ahead of it within {Window}. Their messages are held unacknowledged until the clock is right; check NTP on this host")]
    private static partial void LogClockSuspect(ILogger logger, int devices, double aheadSeconds, TimeSpan window);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No device is ahead of the service clock any more; readings ahead are rejected as final again")]
    private static partial void LogClockTrusted(ILogger logger);
}
