using Telemetry.Grains.Alerts;

namespace Telemetry.Ingest.Api;

/// <summary>
/// The most recent alert state changes of this process, numbered, for the Server-Sent Events stream. Event
/// ids start at the process's start time in milliseconds × 1000 and count up, so ids from a previous run are
/// always smaller: a client that reconnects with an old <c>Last-Event-ID</c> receives what is still held.
/// Bounded to <see cref="Capacity"/> events; a client further behind resumes from the oldest held.
/// </summary>
internal sealed class AlertFeed(TimeProvider time)
{
    public const int Capacity = 1000;

    private readonly (long Id, AlertEvent Alert)[] _ring = new (long, AlertEvent)[Capacity];
    private readonly Lock _lock = new();
    private readonly long _first = time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
    private long _count;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Add(AlertEvent alert)
    {
        TaskCompletionSource changed;
        long id;
        lock (_lock)
        {
            id = _first + _count;
            _ring[_count % Capacity] = (id, alert);
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
