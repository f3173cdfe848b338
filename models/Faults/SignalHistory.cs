namespace Telemetry.Models.Faults;

/// <summary>
/// One signal of one device against its own healthy baseline: the first <c>baselineSize</c> readings are
/// the baseline; after that the median of the last <c>recentSize</c> readings is compared with the baseline
/// median, in units of the baseline's robust spread (1.4826 × median absolute deviation). Medians make a
/// single wild reading harmless, and a device's own baseline makes the test fair to heavy runners and
/// humid climates alike. The state is small and kept in the device grain.
/// </summary>
[GenerateSerializer, Alias("telemetry.signal-history")]
public sealed class SignalHistory
{
    [Id(0)] public List<double> Baseline { get; set; } = [];

    [Id(1)] public List<double> Recent { get; set; } = [];

    [Id(2)] public double? BaselineMedian { get; set; }

    [Id(3)] public double? BaselineScale { get; set; }

    /// <summary>Adds a reading; returns the robust z-score of the recent median, or null while the baseline fills.</summary>
    public double? Observe(double value, int baselineSize, int recentSize, double minScale)
    {
        if (BaselineMedian is null)
        {
            Baseline.Add(value);
            if (Baseline.Count < baselineSize)
            {
                return null;
            }

            var median = Median(Baseline);
            BaselineMedian = median;
            BaselineScale = Math.Max(minScale, 1.4826 * Median(Baseline.Select(v => Math.Abs(v - median)).ToList()));
            Baseline.Clear();
            return null;
        }

        Recent.Add(value);
        if (Recent.Count > recentSize)
        {
            Recent.RemoveAt(0);
        }

        return Recent.Count < recentSize ? null : (Median(Recent) - BaselineMedian.Value) / BaselineScale!.Value;
    }

    /// <summary>The recent median (the value an alert reports), or null.</summary>
    public double? RecentMedian => Recent.Count == 0 ? null : Median(Recent);

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
