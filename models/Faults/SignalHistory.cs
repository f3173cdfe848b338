namespace Telemetry.Models.Faults;

/// <summary>
/// One signal of one device against its own healthy baseline: the first <c>baselineSize</c> readings are
/// the baseline; after that the median of the last <c>recentSize</c> readings is compared with the baseline
/// median, in units of the baseline's robust spread (1.4826 × median absolute deviation). Medians make a
/// single wild reading harmless, and a device's own baseline makes the test fair to heavy runners and
/// humid climates alike. The state is small and kept in the device grain (stored through Telemetry.Grains' serializer,
/// which reads and writes the parts marked "stored" below).
/// </summary>
public sealed class SignalHistory
{
    // Created when first needed and the baseline dropped once summarised: a device holds its baseline readings
    // only while it fills, and an idle resident twin no list it does not use.
    private List<double>? _baseline;

    private List<double>? _recent;

    public SignalHistory()
    {
    }

    /// <summary>A history as it was stored, its lists as they were (null where not created).</summary>
    internal SignalHistory(List<double>? baseline, List<double>? recent, double? baselineMedian, double? baselineScale)
    {
        _baseline = baseline;
        _recent = recent;
        BaselineMedian = baselineMedian;
        BaselineScale = baselineScale;
    }

    /// <summary>Stored: the baseline list itself, null when not created yet or already summarised.</summary>
    internal List<double>? StoredBaseline => _baseline;

    /// <summary>Stored: the recent list itself, null until the baseline is known.</summary>
    internal List<double>? StoredRecent => _recent;

    /// <summary>Readings of the baseline while it fills; empty once its median and spread are known.</summary>
    public IReadOnlyList<double> Baseline => _baseline ?? [];

    /// <summary>The last readings (at most the recent window), once the baseline is known.</summary>
    public IReadOnlyList<double> Recent => _recent ?? [];

    public double? BaselineMedian { get; set; }

    public double? BaselineScale { get; set; }

    /// <summary>Adds a reading; returns the robust z-score of the recent median, or null while the baseline fills.</summary>
    public double? Observe(double value, int baselineSize, int recentSize, double minScale)
    {
        if (BaselineMedian is null)
        {
            var baseline = _baseline ??= new(baselineSize);
            baseline.Add(value);
            if (baseline.Count < baselineSize)
            {
                return null;
            }

            var median = Median(baseline);
            BaselineMedian = median;
            BaselineScale = Math.Max(minScale, 1.4826 * Median(baseline.Select(v => Math.Abs(v - median)).ToList()));
            _baseline = null;
            return null;
        }

        var recent = _recent ??= new(recentSize);
        if (recent.Count < recentSize)
        {
            recent.Add(value);
        }
        else
        {
            // Oldest out, newest in, without the list's RemoveAt(0) copy (this runs for every reading). A plain loop:
            // the window is a few readings, and a call to memmove for 24 overlapping bytes cost 5% of a drain's CPU.
            var window = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(recent);
            for (var i = 1; i < window.Length; i++)
            {
                window[i - 1] = window[i];
            }

            window[^1] = value;
        }

        return recent.Count < recentSize ? null : (Median(recent) - BaselineMedian.Value) / BaselineScale!.Value;
    }

    /// <summary>The recent median (the value an alert reports), or null.</summary>
    public double? RecentMedian => _recent is { Count: > 0 } recent ? Median(recent) : null;

    /// <summary>
    /// Sorts a copy on the stack: called for every reading, it must not allocate. The recent window is a few
    /// readings, so an insertion sort in a loop beats a call to memmove and the general sort.
    /// </summary>
    private static double Median(List<double> values)
    {
        Span<double> sorted = values.Count <= 128 ? stackalloc double[values.Count] : new double[values.Count];
        var source = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(values);
        if (source.Length <= 16)
        {
            for (var i = 0; i < source.Length; i++)
            {
                var v = source[i];
                var j = i - 1;
                for (; j >= 0 && sorted[j] > v; j--)
                {
                    sorted[j + 1] = sorted[j];
                }

                sorted[j + 1] = v;
            }
        }
        else
        {
            source.CopyTo(sorted);
            sorted.Sort();
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
