using Microsoft.Extensions.Diagnostics.HealthChecks;
using Telemetry.Ingest.Hosting;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// Tells "the service's clock is slow" from "one device's clock is fast". A reading ahead of service time is
/// rejected (<c>timestamp_in_future</c>) and its message acknowledged, so the device deletes it: right for a device
/// with a wrong clock, data loss if the service's clock is the wrong one. So a reading ahead by no more than
/// <see cref="PipelineOptions.MaxServiceClockError"/> (what a wrong service clock could explain) is not rejected at
/// first sight: its message is held unacknowledged (and retried) on probation for
/// <see cref="PipelineOptions.ClockSuspectWindow"/>. The service suspects its own clock when, within that window,
/// readings ahead come from <see cref="PipelineOptions.ClockSuspectDevices"/> distinct devices and from at least half
/// of the fresh messages (not retries): a slow service clock puts nearly every device ahead, a few fast devices in a
/// fleet do not. While suspect, such messages stay held and <c>/health</c> says so under "clock"; the suspicion lapses
/// when the fresh messages of a window are mostly on time again, or when nothing at all has been ahead for a window.
/// A device ahead when its probation ends, with no suspicion, has a wrong clock: its readings are rejected as final.
/// Shared by every partition.
/// </summary>
internal sealed partial class ServiceClockWatch(PipelineOptions options, ComponentHealth? health, ILogger logger)
{
    public const string Component = "clock";

    private readonly Lock _lock = new();
    /// <summary>Per device ahead of service time: when first and last seen so (service time, Unix ms).</summary>
    private readonly Dictionary<string, (long First, long Last)> _aheadAt = new(StringComparer.Ordinal);
    private readonly long _windowMs = (long)options.ClockSuspectWindow.TotalMilliseconds;
    private readonly long _maxErrorMs = (long)options.MaxServiceClockError.TotalMilliseconds;

    // Fresh messages in the current and the previous window, and how many of them had readings ahead.
    private long _windowStartMs = long.MinValue;
    private long _messages;
    private long _messagesAhead;
    private long _previousMessages;
    private long _previousAhead;

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
        if (aheadMs > _maxErrorMs)
        {
            // No service clock that is merely wrong is this far behind: the device's clock is, and it is no evidence.
            return false;
        }

        lock (_lock)
        {
            var first = _aheadAt.TryGetValue(deviceId, out var seen) ? seen.First : nowMs;
            _aheadAt[deviceId] = (first, nowMs);
            _maxAheadMs = Math.Max(_maxAheadMs, aheadMs);
            Evaluate(nowMs);
            return _suspect || nowMs - first < _windowMs;
        }
    }

    /// <summary>Counts one fresh message (not a retry) and whether it had readings ahead of service time.</summary>
    public void Observed(long nowMs, bool ahead)
    {
        lock (_lock)
        {
            Rotate(nowMs);
            _messages++;
            if (ahead)
            {
                _messagesAhead++;
            }

            if (_suspect && !ahead)
            {
                // A message on time may be what tips the balance back: held devices' probations should not wait for it.
                Evaluate(nowMs);
            }
        }
    }

    private void Rotate(long nowMs)
    {
        if (nowMs - _windowStartMs < _windowMs)
        {
            return;
        }

        // A whole window or more has passed: the current one becomes the previous (or, after a silence, both empty).
        var adjacent = nowMs - _windowStartMs < 2 * _windowMs;
        _previousMessages = adjacent ? _messages : 0;
        _previousAhead = adjacent ? _messagesAhead : 0;
        _messages = 0;
        _messagesAhead = 0;
        _windowStartMs = nowMs;
    }

    /// <summary>True when at least half of the fresh messages of the last two windows had readings ahead. With none at
    /// all (everything is held) there is no fresh evidence either way: a suspicion stands, but none is raised, or the
    /// retries of a few fast devices' held messages would raise it on a quiet night.</summary>
    private bool MostlyAhead()
    {
        var messages = _messages + _previousMessages;
        return messages == 0 ? _suspect : 2 * (_messagesAhead + _previousAhead) >= messages;
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
        Rotate(nowMs);
        foreach (var (device, at) in _aheadAt)
        {
            if (nowMs - at.Last > _windowMs)
            {
                _aheadAt.Remove(device);
            }
        }

        if (_aheadAt.Count >= options.ClockSuspectDevices && MostlyAhead())
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
        else if (_suspect)
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
