namespace Telemetry.ChaosTests;

/// <summary>
/// Samples the service's peak resident memory (VmHWM) every 200 ms across restarts: the kernel's own peak,
/// so a spike between two samples is not missed while the process lives.
/// </summary>
public sealed class MemoryWatch : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private double _peakMiB;

    public MemoryWatch(Func<int?> pid) => _loop = WatchAsync(pid, _stop.Token);

    public double PeakMiB => Volatile.Read(ref _peakMiB);

    private async Task WatchAsync(Func<int?> pid, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        do
        {
            if (pid() is { } id && ProcessSignals.StatusMiB(id, "VmHWM") is { } hwm && hwm > _peakMiB)
            {
                Volatile.Write(ref _peakMiB, hwm);
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).AsTask().ContinueWith(t => !t.IsCanceled, TaskScheduler.Default));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
