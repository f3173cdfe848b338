namespace Telemetry.Bench.Load;

/// <summary>
/// Spreads publishes evenly over time for <c>--rate</c>: each publish takes the next slot, and waits until it
/// is due. Without a rate every slot is due at once (acks and the window pace the devices).
/// </summary>
internal sealed class Pacer(double messagesPerSecond, TimeProvider time)
{
    private readonly long _start = time.GetTimestamp();
    private long _slots;

    public ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (messagesPerSecond <= 0)
        {
            return ValueTask.CompletedTask;
        }

        var slot = Interlocked.Increment(ref _slots) - 1;
        var due = TimeSpan.FromSeconds(slot / messagesPerSecond) - time.GetElapsedTime(_start);
        return due <= TimeSpan.Zero ? ValueTask.CompletedTask : new ValueTask(Task.Delay(due, time, cancellationToken));
    }
}
