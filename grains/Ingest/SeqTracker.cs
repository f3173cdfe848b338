namespace Telemetry.Grains.Ingest;

/// <summary>
/// Tracks which messages of one boot have been handled: everything up to <see cref="Contiguous"/> plus the
/// seqs handled beyond a gap, kept as sorted, disjoint ranges. The ack a device receives is
/// <see cref="Contiguous"/>; a seq at or below it, or inside a range, is a duplicate. A gap is never skipped:
/// a seq is acknowledged only once it and every seq below it were handled, so a device never deletes a
/// message the service has not stored.
/// </summary>
[GenerateSerializer, Alias("telemetry.seq-tracker")]
public sealed class SeqTracker
{
    /// <summary>The default limit on separate runs held beyond gaps (see <see cref="DedupeOptions.MaxGapRanges"/>).</summary>
    public const int DefaultMaxRanges = 1024;

    public SeqTracker(string boot) => Boot = boot;

    // For the serializer.
    private SeqTracker() => Boot = string.Empty;

    [Id(0)] public string Boot { get; private set; }

    /// <summary>Highest seq with every seq from 0 handled; −1 while seq 0 is missing.</summary>
    [Id(1)] public long Contiguous { get; private set; } = -1;

    // Twins stored before ranges kept every seq beyond a gap here; Migrate() moves them into _ranges on first
    // use. Never written again, kept so that those twins still load (ids are never reused).
    [Id(2)] private List<uint>? _ahead;

    /// <summary>Gaps the old format skipped (and acknowledged) to stay bounded. Nothing increments it any more;
    /// kept so that the history of stored twins is not lost.</summary>
    [Id(3)] public long GapsSkipped { get; private set; }

    // Null until a message arrives beyond a gap, and again once the gaps are filled: nearly every tracker of a
    // hundred thousand resident twins holds no run, and an empty list is 32 bytes each.
    [Id(4)] private List<SeqRange>? _ranges;

    /// <summary>When a message of this boot last arrived (service time); boots are forgotten by age. Default
    /// (unset) for trackers stored before boots had an age: the first use stamps them.</summary>
    [Id(5)] public DateTimeOffset LastSeen { get; internal set; }

    /// <summary>Messages refused because this boot already held too many separate runs beyond gaps.</summary>
    [Id(6)] public long Refused { get; private set; }

    /// <summary>The runs beyond gaps, or null when there is none.</summary>
    private List<SeqRange>? Ranges
    {
        get
        {
            Migrate();
            return _ranges;
        }
    }

    /// <summary>Separate runs held beyond gaps.</summary>
    public int RangeCount => Ranges?.Count ?? 0;

    /// <summary>The highest seq handled so far, or −1.</summary>
    public long Highest => Ranges is { Count: > 0 } ranges ? ranges[^1].To : Contiguous;

    public bool IsDuplicate(uint seq) => seq <= Contiguous || Find(Ranges, seq) >= 0;

    /// <summary>Records <paramref name="seq"/> as handled. Returns false when it was a duplicate (or refused).</summary>
    public bool Record(uint seq) => Record(seq, DefaultMaxRanges) == SeqOutcome.Recorded;

    /// <summary>Records <paramref name="seq"/> as handled, unless it is a duplicate, or it would open a new run
    /// beyond a gap while <paramref name="maxRanges"/> runs are held already.</summary>
    public SeqOutcome Record(uint seq, int maxRanges)
    {
        if (seq <= Contiguous)
        {
            return SeqOutcome.Duplicate;
        }

        var ranges = Ranges;
        if (seq == Contiguous + 1)
        {
            Contiguous = seq;
            if (ranges is { Count: > 0 } && ranges[0].From == seq + 1)
            {
                Contiguous = ranges[0].To;
                ranges.RemoveAt(0);
                if (ranges.Count == 0)
                {
                    _ranges = null;
                }
            }

            return SeqOutcome.Recorded;
        }

        ranges ??= _ranges = [];
        var index = Find(ranges, seq);
        if (index >= 0)
        {
            return SeqOutcome.Duplicate;
        }

        // ~index is the first range starting above seq; seq may extend the one before it, that one, or both.
        var next = ~index;
        var joinsPrevious = next > 0 && ranges[next - 1].To == seq - 1;
        var joinsNext = next < ranges.Count && ranges[next].From == seq + 1;
        if (joinsPrevious && joinsNext)
        {
            ranges[next - 1] = ranges[next - 1] with { To = ranges[next].To };
            ranges.RemoveAt(next);
        }
        else if (joinsPrevious)
        {
            ranges[next - 1] = ranges[next - 1] with { To = seq };
        }
        else if (joinsNext)
        {
            ranges[next] = ranges[next] with { From = seq };
        }
        else if (ranges.Count >= maxRanges)
        {
            // Keep the bookkeeping whole rather than forget (or ack) anything: the device keeps this message.
            Refused++;
            return SeqOutcome.Refused;
        }
        else
        {
            ranges.Insert(next, new SeqRange(seq, seq));
        }

        return SeqOutcome.Recorded;
    }

    /// <summary>The gaps below the highest seq handled, lowest first, at most <paramref name="max"/>: what the
    /// device should send again.</summary>
    public SeqRange[] Missing(int max)
    {
        if (Ranges is not { } ranges)
        {
            return [];
        }

        var missing = new List<SeqRange>(Math.Min(max, ranges.Count));
        var from = Contiguous + 1;
        foreach (var range in ranges)
        {
            if (missing.Count == max)
            {
                break;
            }

            missing.Add(new SeqRange((uint)from, range.From - 1));
            from = (long)range.To + 1;
        }

        return [.. missing];
    }

    /// <summary>Index of the range holding <paramref name="seq"/>, or the complement of where it would go.</summary>
    private static int Find(List<SeqRange>? ranges, uint seq)
    {
        if (ranges is null)
        {
            return ~0;
        }

        int low = 0, high = ranges.Count - 1;
        while (low <= high)
        {
            var mid = (low + high) >>> 1;
            if (ranges[mid].To < seq)
            {
                low = mid + 1;
            }
            else if (ranges[mid].From > seq)
            {
                high = mid - 1;
            }
            else
            {
                return mid;
            }
        }

        return ~low;
    }

    /// <summary>Turns the old format's list of single seqs into runs. The list was sorted and above
    /// <see cref="Contiguous"/> + 1, so runs come out sorted and disjoint.</summary>
    private void Migrate()
    {
        if (_ranges is { Count: 0 })
        {
            // Twins stored before runs were created on first use carry an empty list here.
            _ranges = null;
        }

        if (_ahead is not { Count: > 0 } ahead)
        {
            // Twins stored before ranges carry an empty list here: not worth keeping in memory.
            _ahead = null;
            return;
        }

        _ranges ??= [];
        foreach (var seq in ahead)
        {
            if (_ranges.Count > 0 && _ranges[^1].To == seq - 1)
            {
                _ranges[^1] = _ranges[^1] with { To = seq };
            }
            else if (_ranges.Count == 0 || _ranges[^1].To < seq)
            {
                _ranges.Add(new SeqRange(seq, seq));
            }
        }

        _ahead = null;
    }

    /// <summary>For migration tests: builds a tracker as the old format stored it.</summary>
    internal static SeqTracker FromOldFormat(string boot, long contiguous, IEnumerable<uint> ahead) =>
        new() { Boot = boot, Contiguous = contiguous, _ahead = [.. ahead], _ranges = null };
}
