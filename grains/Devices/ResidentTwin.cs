namespace Telemetry.Grains.Devices;

/// <summary>One device grain activation as <see cref="ResidentTwins"/> sees it: when it was last called, and how
/// to deactivate it. The grain passes itself (its context) and a static callback, so that a resident twin costs
/// one small object, not a closure and a delegate each.</summary>
internal sealed class ResidentTwin(object target, Action<object> deactivate)
{
    private const int Resident = 0;
    private const int Leaving = 1;
    private const int Gone = 2;

    private long _lastUsed;
    private int _state;

    /// <summary>When the twin was last called (<see cref="TimeProvider.GetTimestamp"/> units).</summary>
    public long LastUsed => Volatile.Read(ref _lastUsed);

    /// <summary>Called on every grain call: a plain store, no lock, so that the cap costs the hot path nothing.</summary>
    public void Touch(long timestamp) => Volatile.Write(ref _lastUsed, timestamp);

    /// <summary>Starts deactivating the grain; Orleans finishes any call in progress first, and the next call
    /// activates it again from its stored state.</summary>
    public void Deactivate() => deactivate(target);

    /// <summary>Chosen by a sweep: on its way out unless asking it to leave fails.</summary>
    public void MarkLeaving() => Interlocked.CompareExchange(ref _state, Leaving, Resident);

    /// <summary>Its activation is deactivating (<c>OnDeactivateAsync</c>): it never counts as resident again.</summary>
    public void MarkGone() => Volatile.Write(ref _state, Gone);

    public bool IsGone => Volatile.Read(ref _state) == Gone;

    /// <summary>Asking it to leave failed: true if it is still resident (not gone meanwhile), so it is counted again.</summary>
    public bool TryStay() => Interlocked.CompareExchange(ref _state, Resident, Leaving) == Leaving;
}
