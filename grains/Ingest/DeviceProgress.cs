namespace Telemetry.Grains.Ingest;

/// <summary>
/// Message progress of one device across boots. A new boot id starts a new tracker; a few older ones are
/// kept because a device may still flush messages from before its reboot.
/// </summary>
[GenerateSerializer, Alias("telemetry.device-progress")]
public sealed class DeviceProgress
{
    /// <summary>Boots remembered per device, newest first.</summary>
    public const int MaxBoots = 4;

    [Id(0)] private readonly List<SeqTracker> _boots = [];

    public bool IsDuplicate(MessageKey key) => Find(key.Boot)?.IsDuplicate(key.Seq) ?? false;

    /// <summary>Records a handled message. Returns false when it had been handled before.</summary>
    public bool Record(MessageKey key)
    {
        var tracker = Find(key.Boot);
        if (tracker is null)
        {
            tracker = new SeqTracker(key.Boot);
            _boots.Insert(0, tracker);
            if (_boots.Count > MaxBoots)
            {
                _boots.RemoveAt(_boots.Count - 1);
            }
        }

        return tracker.Record(key.Seq);
    }

    /// <summary>The ack for <paramref name="boot"/>, or null while its seq 0 is missing.</summary>
    public MessageKey? AckFor(string boot) =>
        Find(boot) is { Contiguous: >= 0 } tracker ? new MessageKey(boot, (uint)tracker.Contiguous) : null;

    /// <summary>The current ack of every remembered boot.</summary>
    public MessageKey[] Acks() =>
        [.. _boots.Where(t => t.Contiguous >= 0).Select(t => new MessageKey(t.Boot, (uint)t.Contiguous))];

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
