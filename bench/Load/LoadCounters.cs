using System.Collections.Concurrent;

namespace Telemetry.Bench.Load;

/// <summary>What all devices of a run did, counted as it happens; read once at the end.</summary>
internal sealed class LoadCounters(TimeSpan warmup = default)
{
    private readonly ConcurrentDictionary<string, long> _messagesRejected = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _readingsRejected = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<float> _ackMs = [];

    /// <summary>When each latency was measured (seconds since the counters were made), for the worst 10 s window.</summary>
    private readonly ConcurrentBag<(float AtS, float Ms)> _ackTimes = [];
    private readonly long _start = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>When each faulty device first sent its first faulty message, and how long its alert took.</summary>
    private readonly ConcurrentDictionary<string, long> _faultSent = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, float> _alertMs = new(StringComparer.Ordinal);

    public int FaultsSent => _faultSent.Count;

    public int AlertsTimed => _alertMs.Count;

    public void FaultSent(string device, long timestamp) => _faultSent.TryAdd(device, timestamp);

    /// <summary>An alert raised for <paramref name="device"/> arrived: timed from its first faulty message (the first
    /// alert per device only; one of a device that sent no fault yet is ignored).</summary>
    public void AlertRaised(string device, long timestamp)
    {
        if (_faultSent.TryGetValue(device, out var sent))
        {
            _alertMs.TryAdd(device, (float)System.Diagnostics.Stopwatch.GetElapsedTime(sent, timestamp).TotalMilliseconds);
        }
    }

    /// <summary>Reading-to-alert latency at quantile <paramref name="q"/>, nearest rank; 0 when none was timed.</summary>
    public double AlertPercentileMs(double q)
    {
        return NearestRank(_alertMs.Values.ToArray(), q);
    }
    private long _messagesSent;
    private long _readingsSent;
    private long _messagesAcked;
    private long _readingsAcked;
    private long _resends;
    private long _rateLimited;
    private long _reconnects;
    private long _connectFailures;

    public long MessagesSent => Interlocked.Read(ref _messagesSent);

    public long ReadingsSent => Interlocked.Read(ref _readingsSent);

    public long MessagesAcked => Interlocked.Read(ref _messagesAcked);

    public long ReadingsAcked => Interlocked.Read(ref _readingsAcked);

    public long Resends => Interlocked.Read(ref _resends);

    public long RateLimitedCount => Interlocked.Read(ref _rateLimited);

    public long Reconnects => Interlocked.Read(ref _reconnects);

    public long ConnectFailures => Interlocked.Read(ref _connectFailures);

    public IReadOnlyDictionary<string, long> MessagesRejected => _messagesRejected;

    public IReadOnlyDictionary<string, long> ReadingsRejected => _readingsRejected;

    public void Sent(int readings)
    {
        Interlocked.Increment(ref _messagesSent);
        Interlocked.Add(ref _readingsSent, readings);
    }

    public void Resent() => Interlocked.Increment(ref _resends);

    /// <param name="latency">From the first publish to the ack; null when an earlier run sent it.</param>
    public void Acked(int readings, TimeSpan? latency)
    {
        Interlocked.Increment(ref _messagesAcked);
        Interlocked.Add(ref _readingsAcked, readings);
        if (latency is { } l)
        {
            var at = System.Diagnostics.Stopwatch.GetElapsedTime(_start);
            _ackTimes.Add(((float)at.TotalSeconds, (float)l.TotalMilliseconds));
            if (at - l >= warmup)
            {
                _ackMs.Add((float)l.TotalMilliseconds);
            }
        }
    }

    public void RateLimited() => Interlocked.Increment(ref _rateLimited);

    public void Rejected(string reason, int readings, bool messageLevel)
    {
        if (messageLevel)
        {
            _messagesRejected.AddOrUpdate(reason, 1, (_, n) => n + 1);
        }

        _readingsRejected.AddOrUpdate(reason, readings, (_, n) => n + readings);
    }

    public void Reconnected() => Interlocked.Increment(ref _reconnects);

    public void ConnectFailed() => Interlocked.Increment(ref _connectFailures);

    /// <summary>The ack latency at quantile 0.99 of each 10 s of the run (by when the ack arrived), so that a tail
    /// from one pause tells itself apart from a tail spread over the whole run.</summary>
    public double[] AckP99MsBy10Seconds()
    {
        var byWindow = _ackTimes.GroupBy(a => (int)(a.AtS / 10)).OrderBy(g => g.Key).ToList();
        if (byWindow.Count == 0)
        {
            return [];
        }

        var result = new double[byWindow[^1].Key + 1];
        foreach (var window in byWindow)
        {
            result[window.Key] = Math.Round(NearestRank([.. window.Select(a => a.Ms)], 0.99), 1);
        }

        return result;
    }

    /// <summary>The ack latency at quantile <paramref name="q"/> (0..1), nearest rank, of messages first sent after the
    /// warm-up (or of all, <paramref name="withWarmup"/>); 0 when nothing was acked.</summary>
    public double AckPercentileMs(double q, bool withWarmup = false)
    {
        return NearestRank(withWarmup ? [.. _ackTimes.Select(a => a.Ms)] : _ackMs.ToArray(), q);
    }

    /// <summary>The value at quantile <paramref name="q"/> by nearest rank (sorts <paramref name="values"/>); 0 when empty.</summary>
    private static double NearestRank(float[] values, double q)
    {
        if (values.Length == 0)
        {
            return 0;
        }

        Array.Sort(values);
        return values[Math.Clamp((int)Math.Ceiling(q * values.Length) - 1, 0, values.Length - 1)];
    }
}
