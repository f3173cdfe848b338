namespace Telemetry.Bench.Load;

/// <summary>
/// Spreads publishes evenly over time for <c>--rate</c>: each publish takes the next slot, and waits until it
/// is due. Without a rate every slot is due at once (acks and the window pace the devices). The slots count from
/// the first publish, not from the tool's start: the seconds spent connecting the devices must not pile up as
/// overdue slots that then go out at once, a burst that a steady load is not.
/// </summary>
internal sealed class Pacer(double messagesPerSecond, TimeProvider time)
{
    private long _start = -1;
    private long _slots;

    public ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (messagesPerSecond <= 0)
        {
            return ValueTask.CompletedTask;
        }

        if (Volatile.Read(ref _start) < 0)
        {
            Interlocked.CompareExchange(ref _start, time.GetTimestamp(), -1);
        }

        var slot = Interlocked.Increment(ref _slots) - 1;
        var due = TimeSpan.FromSeconds(slot / messagesPerSecond) - time.GetElapsedTime(Volatile.Read(ref _start));
        return due <= TimeSpan.Zero ? ValueTask.CompletedTask : new ValueTask(Task.Delay(due, time, cancellationToken));
    }
}
