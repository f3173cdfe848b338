namespace Telemetry.Grains.Ingest;

/// <summary>
/// Message progress of one device across boots. A new boot id starts a new tracker. Boots are remembered by
/// age (<see cref="DedupeOptions.BootMemory"/> since a message of the boot last arrived), so a device that
/// reboots often can still resend from a boot days old without it being applied twice; a hard cap on their
/// number bounds the twin.
/// </summary>
[GenerateSerializer, Alias("telemetry.device-progress")]
public sealed class DeviceProgress
{
    private static readonly DedupeOptions Defaults = new();

    // Room for one boot: nearly every device has one, and a list grows to four on its first insert.
    [Id(0)] private readonly List<SeqTracker> _boots = new(1);

    /// <summary>Boots forgotten because of the cap on their number, not their age.</summary>
    [Id(1)] public long BootsEvicted { get; private set; }

    /// <summary>Boots remembered now.</summary>
    public int BootCount => _boots.Count;

    public bool IsDuplicate(MessageKey key) => Find(key.Boot)?.IsDuplicate(key.Seq) ?? false;

    /// <summary>Records a handled message without ages (for stand-ins of the grain in tests). Returns false when it
    /// had been handled before or was refused.</summary>
    public bool Record(MessageKey key) => Record(key, null, Defaults) == SeqOutcome.Recorded;

    /// <summary>
    /// Records a handled message at <paramref name="now"/>: forgets boots not seen for
    /// <see cref="DedupeOptions.BootMemory"/>, then, beyond <see cref="DedupeOptions.MaxBoots"/>, those seen
    /// longest ago. Without <paramref name="now"/> only the cap applies.
    /// </summary>
    public SeqOutcome Record(MessageKey key, DateTimeOffset? now, DedupeOptions options)
    {
        if (now is { } at)
        {
            Expire(at, options.BootMemory);
        }

        var tracker = Find(key.Boot);

        if (tracker is null)
        {
            tracker = new SeqTracker(key.Boot);
            _boots.Insert(0, tracker);
            while (_boots.Count > options.MaxBoots)
            {
                // Seen longest ago goes first; the boot just started is never the one evicted.
                var oldest = _boots.Where(t => t != tracker).MinBy(t => t.LastSeen)!;
                _boots.Remove(oldest);
                BootsEvicted++;
            }
        }

        if (now is { } seen)
        {
            tracker.LastSeen = seen;
        }

        return tracker.Record(key.Seq, options.MaxGapRanges);
    }

    /// <summary>Whether anything is remembered above <paramref name="seq"/> of <paramref name="boot"/>, or of any
    /// other boot.</summary>
    public bool HoldsBeyond(string boot, long seq)
    {
        foreach (var tracker in _boots)
        {
            if (tracker.Boot != boot || tracker.Highest > seq)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The ack for <paramref name="boot"/>, or null while its seq 0 is missing.</summary>
    public MessageKey? AckFor(string boot) =>
        Find(boot) is { Contiguous: >= 0 } tracker ? new MessageKey(boot, (uint)tracker.Contiguous) : null;

    /// <summary>The gaps of <paramref name="boot"/> below its highest seq, lowest first, at most <paramref name="max"/>.</summary>
    public SeqRange[] MissingFor(string boot, int max) => Find(boot)?.Missing(max) ?? [];

    /// <summary>The current ack of every remembered boot.</summary>
    public MessageKey[] Acks() =>
        [.. _boots.Where(t => t.Contiguous >= 0).Select(t => new MessageKey(t.Boot, (uint)t.Contiguous))];

    private void Expire(DateTimeOffset now, TimeSpan memory)
    {
        for (var i = _boots.Count - 1; i >= 0; i--)
        {
            var tracker = _boots[i];
            if (tracker.LastSeen == default)
            {
                // Stored before boots had an age: the memory starts now rather than expiring at once.
                tracker.LastSeen = now;
            }
            else if (now - tracker.LastSeen > memory)
            {
                _boots.RemoveAt(i);
            }
        }
    }

    private SeqTracker? Find(string boot)
    {
        foreach (var tracker in _boots)
        {
            if (tracker.Boot == boot)
            {
                return tracker;
            }
        }

        return null;
    }
}
