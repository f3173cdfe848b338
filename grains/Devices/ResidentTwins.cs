using System.Collections.Concurrent;

namespace Telemetry.Grains.Devices;

/// <summary>
/// The device twins resident in this silo, so that their number, and with it the memory they hold, stays bounded
/// with more devices than fit (<c>Twins:MaxResidentTwins</c>). Once more than <see cref="Max"/> are resident, the
/// least recently called are deactivated down to <see cref="Target"/>. Nothing is lost: a twin is written after
/// every round, so a deactivated one is simply read back from its store on its device's next message.
/// Orleans' own activation collection (idle age, <c>Twins:CollectionAge</c>) runs as well; this cap is for bursts
/// of devices faster than that age, such as a whole fleet coming back at once.
/// </summary>
internal sealed class ResidentTwins : IDisposable
{
    /// <summary>Share of <see cref="Max"/> shed at a time: large enough that the sweep (a sort of every resident
    /// twin) runs rarely, small enough that recently active twins stay.</summary>
    internal const double ShedFraction = 0.1;

    private readonly ConcurrentDictionary<ResidentTwin, byte> _twins = new();

    /// <summary>Kept beside the dictionary: <see cref="ConcurrentDictionary{TKey,TValue}.Count"/> takes every one of
    /// its locks, and asking it on each activation made a fleet coming back queue on them (18% of the CPU of a
    /// 100,000-device drain went to lock contention).</summary>
    private int _count;
    private readonly SemaphoreSlim _overLimit = new(0, 1);
    private readonly TimeProvider _time;

    public ResidentTwins(int max, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        Max = max;
        Target = Math.Max(1, (int)(max * (1 - ShedFraction)));
        _time = time;
    }

    public int Max { get; }

    /// <summary>What a sweep sheds down to.</summary>
    public int Target { get; }

    public int Count => Volatile.Read(ref _count);

    /// <summary>Twins deactivated by the cap since start.</summary>
    public long Shed { get; private set; }

    /// <summary>Registers an activation (from <c>OnActivateAsync</c>); past the cap, wakes the sweeper.</summary>
    public ResidentTwin Add(object target, Action<object> deactivate)
    {
        var twin = new ResidentTwin(target, deactivate);
        twin.Touch(_time.GetTimestamp());
        if (_twins.TryAdd(twin, 0) && Interlocked.Increment(ref _count) > Max && _overLimit.CurrentCount == 0)
        {
            try
            {
                _overLimit.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another activation woke it first.
            }
        }

        return twin;
    }

    public void Touch(ResidentTwin twin) => twin.Touch(_time.GetTimestamp());

    /// <summary>Unregisters an activation (from <c>OnDeactivateAsync</c>, whatever deactivated it).</summary>
    public void Remove(ResidentTwin twin)
    {
        twin.MarkGone();
        Unregister(twin);
    }

    private void Unregister(ResidentTwin twin)
    {
        if (_twins.TryRemove(twin, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>Waits until more than <see cref="Max"/> twins are resident.</summary>
    public async Task WaitUntilOverLimitAsync(CancellationToken cancellationToken)
    {
        while (Count <= Max)
        {
            await _overLimit.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Starts deactivating the least recently called twins until <see cref="Target"/> remain. Deactivation
    /// completes asynchronously (each twin leaves the registry in its <c>OnDeactivateAsync</c>). A twin that cannot
    /// be asked to leave does not keep the others resident: every other one is asked. It is still resident, so it is
    /// counted again, as most recently used, so that the next sweep asks others first.</summary>
    public ShedOutcome ShedLeastRecentlyUsed()
    {
        var twins = _twins.Keys.ToArray();
        var surplus = twins.Length - Target;
        if (surplus <= 0)
        {
            return new ShedOutcome(0, []);
        }

        var lastUsed = Array.ConvertAll(twins, t => t.LastUsed);
        Array.Sort(lastUsed, twins);
        List<Exception>? failures = null;
        var shed = 0;
        for (var i = 0; i < surplus; i++)
        {
            // Out of the registry now, so that the next sweep does not pick it again while it deactivates.
            var twin = twins[i];
            twin.MarkLeaving();
            Unregister(twin);
            try
            {
                twin.Deactivate();
                shed++;
            }
            catch (Exception e)
            {
                (failures ??= []).Add(e);
                // Counted again as the most recently used, so the next sweep asks others first; but not if its
                // activation has meanwhile started deactivating anyway: that one is gone for good.
                twin.Touch(_time.GetTimestamp());
                if (twin.TryStay() && _twins.TryAdd(twin, 0))
                {
                    Interlocked.Increment(ref _count);
                    if (twin.IsGone)
                    {
                        // Its OnDeactivateAsync ran between the two lines above.
                        Unregister(twin);
                    }
                }
            }
        }

        Shed += shed;
        return new ShedOutcome(shed, failures ?? []);
    }

    public void Dispose() => _overLimit.Dispose();
}

/// <summary>What a sweep did: twins asked to leave, and why others could not be.</summary>
internal readonly record struct ShedOutcome(int Shed, IReadOnlyList<Exception> Failures);
