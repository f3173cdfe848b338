namespace Telemetry.Grains.Ingest;

/// <summary>
/// Tracks which messages of one boot have been handled: everything up to <see cref="Contiguous"/> plus
/// the seqs seen beyond a gap. The ack a device receives is <see cref="Contiguous"/>; a seq at or below it,
/// or already in the set beyond it, is a duplicate.
/// </summary>
[GenerateSerializer, Alias("telemetry.seq-tracker")]
public sealed class SeqTracker
{
    /// <summary>Seqs held beyond a gap. A device this far ahead of a missing message has lost it for good;
    /// the tracker then skips the gap rather than grow (counted by the caller as a gap skipped).</summary>
    public const int MaxAhead = 4096;

    public SeqTracker(string boot) => Boot = boot;

    // For the serializer.
    private SeqTracker() => Boot = string.Empty;

    [Id(0)] public string Boot { get; private set; }

    /// <summary>Highest seq with every seq from 0 handled; −1 while seq 0 is missing.</summary>
    [Id(1)] public long Contiguous { get; private set; } = -1;

    [Id(2)] private readonly List<uint> _ahead = [];

    public bool IsDuplicate(uint seq) => seq <= Contiguous || _ahead.BinarySearch(seq) >= 0;

    /// <summary>Records <paramref name="seq"/> as handled. Returns false when it was a duplicate.</summary>
    public bool Record(uint seq)
    {
        if (seq <= Contiguous)
        {
            return false;
        }

        if (seq == Contiguous + 1)
        {
            Contiguous = seq;
            Drain();
            return true;
        }

        var index = _ahead.BinarySearch(seq);
        if (index >= 0)
        {
            return false;
        }

        _ahead.Insert(~index, seq);
        if (_ahead.Count > MaxAhead)
        {
            GapsSkipped++;
            Contiguous = _ahead[0];
            _ahead.RemoveAt(0);
            Drain();
        }

        return true;
    }

    [Id(3)] public long GapsSkipped { get; private set; }

    private void Drain()
    {
        var consumed = 0;
        while (consumed < _ahead.Count && _ahead[consumed] == Contiguous + 1)
        {
            Contiguous = _ahead[consumed];
            consumed++;
        }

        if (consumed > 0)
        {
            _ahead.RemoveRange(0, consumed);
        }
    }
}
