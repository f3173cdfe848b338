namespace Telemetry.Models.Faults;

/// <summary>
/// A band's recent capacity fade per charge cycle: a least-squares line through the last
/// <see cref="Window"/> charge summaries (capacity against cycles), in percent of the reference capacity per
/// cycle. It answers "is this cell losing capacity faster than its cycles explain?".
/// </summary>
public sealed class CapacityTrend
{
    public const int Window = 60;

    public List<double> Cycles { get; set; } = [];

    public List<double> CapacityPct { get; set; } = [];

    /// <summary>The fitted capacity (percent of reference) at the newest cycle, once the window is full.</summary>
    public double? FittedPct { get; set; }

    /// <summary>Adds a summary; returns the fade in %/cycle once the window spans enough cycles, else null.</summary>
    public double? Observe(double cycles, double capacityMah, double referenceMah, double minSpanCycles = 30)
    {
        if (referenceMah <= 0)
        {
            return null;
        }

        Cycles.Add(cycles);
        CapacityPct.Add(100 * capacityMah / referenceMah);
        if (Cycles.Count > Window)
        {
            Cycles.RemoveAt(0);
            CapacityPct.RemoveAt(0);
        }

        if (Cycles.Count < Window || Cycles[^1] - Cycles[0] < minSpanCycles)
        {
            return null;
        }

        double mx = Cycles.Average(), my = CapacityPct.Average(), sxy = 0, sxx = 0;
        for (var i = 0; i < Cycles.Count; i++)
        {
            sxy += (Cycles[i] - mx) * (CapacityPct[i] - my);
            sxx += (Cycles[i] - mx) * (Cycles[i] - mx);
        }

        if (sxx <= 0)
        {
            return null;
        }

        // The line's value at the newest cycle: capacity with the gauge's noise averaged out.
        FittedPct = my + (sxy / sxx * (Cycles[^1] - mx));
        return -sxy / sxx;
    }
}
