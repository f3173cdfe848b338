namespace Telemetry.Grains.Devices;

/// <summary>One device grain activation as <see cref="ResidentTwins"/> sees it: when it was last called, and how
/// to deactivate it. The grain passes itself (its context) and a static callback, so that a resident twin costs
/// one small object, not a closure and a delegate each.</summary>
internal sealed class ResidentTwin(object target, Action<object> deactivate)
{
    private long _lastUsed;

    /// <summary>When the twin was last called (<see cref="TimeProvider.GetTimestamp"/> units).</summary>
    public long LastUsed => Volatile.Read(ref _lastUsed);

    /// <summary>Called on every grain call: a plain store, no lock, so that the cap costs the hot path nothing.</summary>
    public void Touch(long timestamp) => Volatile.Write(ref _lastUsed, timestamp);

    /// <summary>Starts deactivating the grain; Orleans finishes any call in progress first, and the next call
    /// activates it again from its stored state.</summary>
    public void Deactivate() => deactivate(target);
}
