using Telemetry.Grains.Alerts;

namespace Telemetry.Ingest.Api;

/// <summary>
/// The most recent alert state changes of this process, numbered, for the Server-Sent Events stream. Event
/// ids start at the process's start time in milliseconds × 1000 and count up, so ids from a previous run are
/// always smaller: a client that reconnects with an old <c>Last-Event-ID</c> receives what is still held.
/// Bounded to <see cref="Capacity"/> events; a client further behind resumes from the oldest held. Delivery into
/// the feed is at least once (a twin retries what it could not deliver everywhere), so an event whose
/// <see cref="AlertEvent.EventId"/> is still held is not added again.
/// </summary>
internal sealed class AlertFeed(TimeProvider time)
{
    public const int Capacity = 1000;

    private readonly (long Id, AlertEvent Alert)[] _ring = new (long, AlertEvent)[Capacity];
    private readonly Lock _lock = new();
    private readonly long _first = time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
    private readonly HashSet<string> _held = new(StringComparer.Ordinal);
    private long _count;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Adds an event and returns its feed id, or the id it already has when it is held.</summary>
    public long Add(AlertEvent alert)
    {
        TaskCompletionSource changed;
        long id;
        lock (_lock)
        {
            if (alert.EventId.Length > 0 && _held.Contains(alert.EventId))
            {
                for (var i = Math.Max(0, _count - Capacity); i < _count; i++)
                {
                    if (_ring[i % Capacity].Alert.EventId == alert.EventId)
                    {
                        return _ring[i % Capacity].Id;
                    }
                }
            }

            id = _first + _count;
            if (_count >= Capacity && _ring[_count % Capacity].Alert is { EventId.Length: > 0 } evicted)
            {
                _held.Remove(evicted.EventId);
            }

            _ring[_count % Capacity] = (id, alert);
            if (alert.EventId.Length > 0)
            {
                _held.Add(alert.EventId);
            }

            _count++;
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
        return id;
    }

    /// <summary>Events after <paramref name="afterId"/> (all held when null), oldest first, and a task that
    /// completes when the next one arrives.</summary>
    public (List<(long Id, AlertEvent Alert)> Events, Task Next) Since(long? afterId)
    {
        lock (_lock)
        {
            var events = new List<(long, AlertEvent)>();
            for (var i = Math.Max(0, _count - Capacity); i < _count; i++)
            {
                var entry = _ring[i % Capacity];
                if (afterId is null || entry.Id > afterId)
                {
                    events.Add(entry);
                }
            }

            return (events, _changed.Task);
        }
    }
}
