namespace Telemetry.Ingest.Broker;

/// <summary>
/// A counting window with asynchronous, cancellable waits, first come first served: <see cref="EnterAsync"/>
/// takes a place or waits for one, <see cref="Release"/> gives places back and admits the oldest waiters.
/// Unlike a semaphore, <see cref="Take"/> may go over the size: the broker must count a message it has already
/// queued, even when it arrived by a path that did not wait.
/// </summary>
internal sealed class InFlightWindow(int size, TimeProvider time)
{
    private readonly object _lock = new();
    private readonly LinkedList<TaskCompletionSource> _waiters = new();
    private int _used;
    private long _waits;
    private long _pausedTicks;

    public int Size => size;

    /// <summary>Places taken now (may exceed <see cref="Size"/> after <see cref="Take"/>).</summary>
    public int Used
    {
        get
        {
            lock (_lock)
            {
                return _used;
            }
        }
    }

    /// <summary>Callers waiting for a place now.</summary>
    public int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>Entries that had to wait for a place (including those cancelled while waiting).</summary>
    public long Waits => Interlocked.Read(ref _waits);

    /// <summary>Time spent waiting, summed over every wait that ended.</summary>
    public TimeSpan Paused => TimeSpan.FromTicks(Interlocked.Read(ref _pausedTicks));

    /// <summary>Takes a place, waiting while the window is full. Cancelled: no place is taken.</summary>
    public ValueTask EnterAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            // Waiters go first: a caller arriving just as a place frees up must not overtake them.
            if (_used < size && _waiters.Count == 0)
            {
                _used++;
                return ValueTask.CompletedTask;
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.AddLast(waiter);
        }

        Interlocked.Increment(ref _waits);
        return new ValueTask(WaitAsync(waiter, cancellationToken));
    }

    /// <summary>Takes a place whether or not one is free.</summary>
    public void Take()
    {
        lock (_lock)
        {
            _used++;
        }
    }

    /// <summary>Gives back <paramref name="count"/> places and admits waiters into what is free.</summary>
    public void Release(int count = 1)
    {
        if (count <= 0)
        {
            return;
        }

        List<TaskCompletionSource>? admitted = null;
        lock (_lock)
        {
            _used = Math.Max(0, _used - count);
            while (_used < size && _waiters.First is { } first)
            {
                _waiters.RemoveFirst();
                _used++;
                (admitted ??= []).Add(first.Value);
            }
        }

        // Completed outside the lock; continuations run asynchronously, never on this caller's stack.
        admitted?.ForEach(w => w.TrySetResult());
    }

    private async Task WaitAsync(TaskCompletionSource waiter, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        try
        {
            using (cancellationToken.Register(() => Cancel(waiter, cancellationToken)))
            {
                await waiter.Task.ConfigureAwait(false);
            }
        }
        finally
        {
            Interlocked.Add(ref _pausedTicks, time.GetElapsedTime(started).Ticks);
        }
    }

    private void Cancel(TaskCompletionSource waiter, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            // Already admitted: the place is taken and the caller sees success; it releases the place itself.
            if (!_waiters.Remove(waiter))
            {
                return;
            }
        }

        waiter.TrySetCanceled(cancellationToken);
    }
}
