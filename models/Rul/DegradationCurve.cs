namespace Telemetry.Models.Rul;

/// <summary>
/// Remaining life from one health indicator drifting towards its limit, with the population's curves as the prior.
/// Each unit's indicator (a trailing median, so scoring sees only the past) is turned into progress: 0 at the unit's
/// own first rows, 1 at its limit, never going back (a rest that recovers some capacity does not make a cell younger).
/// For a unit at progress q and age a, every training unit v says how long it took from q to its end, scaled by how
/// much slower or faster this unit reached q than v did (as the power 2q of that ratio, fully from half-way: near the
/// start the unit's own pace says little). The median of those is the estimate and their 10th and 90th percentiles
/// the raw interval. With <see cref="Fitted"/>, the unit's whole trajectory is fitted instead (<see cref="LifeFit"/>),
/// and with <see cref="Blend"/> the two answers are averaged.
/// </summary>
public sealed class DegradationCurve
{
    private readonly Curve[] _curves;

    public DegradationCurve(int column, int direction, LifeDefinition? life, double endOffset, int smooth, Curve[] curves, LifeFit? fitted = null, bool blend = false)
    {
        Fitted = fitted;
        Blend = blend && fitted is not null;
        Column = column;
        Direction = direction;
        Life = life;
        EndOffset = endOffset;
        Smooth = Math.Max(1, smooth);
        _curves = curves;
    }

    /// <summary>Index of the health indicator among the table's columns.</summary>
    public int Column { get; }

    /// <summary>-1 when the indicator falls as the unit wears.</summary>
    public int Direction { get; }

    /// <summary>The limit that ends a life; null when life ends at each unit's last row (then <see cref="EndOffset"/> applies).</summary>
    public LifeDefinition? Life { get; }

    /// <summary>Without a limit: the mean distance of the indicator from a unit's first rows to its end of life.</summary>
    public double EndOffset { get; }

    public int Smooth { get; }

    public IReadOnlyList<Curve> Curves => _curves;

    /// <summary>The population's prior when each unit's trajectory is fitted; null for the lookup at the unit's current progress.</summary>
    public LifeFit? Fitted { get; }

    /// <summary>
    /// With <see cref="Fitted"/>: the answer is the mean of the fit's and the lookup's (estimate and band alike). On a
    /// handful of units neither can be told better by cross-validation, and their errors differ (the lookup follows
    /// the unit's current pace, the fit its whole trajectory).
    /// </summary>
    public bool Blend { get; }

    /// <summary>One training unit's progress against its age (from its first row), and its whole life.</summary>
    public sealed record Curve(double[] Ages, double[] Progress, double Life);

    /// <summary>Most a curve's ages and life may be: stretched (up to e^1.5) and shifted, they stay far from overflowing.</summary>
    internal const double MaxTime = 1e250;

    /// <summary>Least life above zero a curve may have: a fit divides by it (255 samples over the life, stretched by up
    /// to e^1.5), and a far tinier one overflows to infinity (times of 1e-300 a row are still scored).</summary>
    internal const double MinLife = 1e-303;

    /// <summary>Whether curves read from a file can be scored: each with as many ages as progress values, finite ages
    /// and a life of 0 or within <see cref="MinLife"/> to <see cref="MaxTime"/>, progress in [0, 1].</summary>
    public static bool CanBeScored(Curve[]? curves) => curves is { Length: > 0 } && curves.All(k => k is { Ages: { } ages, Progress: { } progress }
        && ages.Length == progress.Length && (k.Life == 0 || (k.Life >= MinLife && k.Life <= MaxTime))
        && ages.All(a => Math.Abs(a) <= MaxTime) && progress.All(p => p is >= 0 and <= 1));

    /// <summary>Whether a curve can take part in a fit or a lookup: a life above zero and at least one row.</summary>
    public static bool IsUsable(Curve curve) => curve.Life > 0 && curve.Ages.Length > 0;

    /// <summary>The population of <paramref name="train"/>'s units; with an evidence weight (<see cref="LifeFit.Evidence"/>), each unit's own trajectory is fitted, otherwise looked up at its current progress.</summary>
    public static DegradationCurve Fit(RunTable train, int column, int direction, LifeDefinition? life, int smooth, double? evidence = null, double memory = 1, bool blend = false)
    {
        var endOffset = 0.0;
        if (life is null)
        {
            endOffset = train.Units.Average(u => Smoothing.TrailingMedian(u, column, u.Times.Length - 1, Math.Max(1, smooth)) - LifeDefinition.Reference(u, column));
            if (Math.Abs(endOffset) < 1e-12)
            {
                endOffset = direction * 1e-12;
            }
        }

        var partial = new DegradationCurve(column, direction, life, endOffset, smooth, []);
        var curves = train.Units.Select(u =>
        {
            var progress = partial.ProgressOf(u, u.Times.Length - 1);
            return new Curve([.. u.Times.Select(t => t - u.Times[0])], progress, u.Times[^1] - u.Times[0]);
        }).ToArray();
        return new DegradationCurve(column, direction, life, endOffset, smooth, curves, evidence is { } e ? LifeFit.From(curves, e, memory) : null, blend);
    }

    /// <summary>The unit's progress at each of its rows up to <paramref name="last"/>: 0 at its first rows, 1 at its limit, never decreasing.</summary>
    public double[] ProgressOf(RunTable.Unit unit, int last, int[]? columnMap = null)
    {
        var column = columnMap?[Column] ?? Column;
        var progress = new double[last + 1];
        var highest = 0.0;
        for (var i = 0; i <= last; i++)
        {
            // The reference and a relative limit from the rows seen so far: scoring a row never looks ahead of it.
            var reference = LifeDefinition.Reference(unit, column, i);
            var limit = Life is { } l ? l.LimitFor(unit, column, i) : reference + EndOffset;
            var span = limit - reference;
            var value = Smoothing.TrailingMedian(unit, column, i, Smooth);
            var p = Math.Abs(span) < 1e-12 ? 0 : (value - reference) / span;
            highest = Math.Max(highest, Math.Clamp(p, 0, 1));
            progress[i] = highest;
        }

        return progress;
    }

    /// <summary>Remaining life at each row of the unit, with the raw 10th–90th percentile interval.</summary>
    public (double Rul, double Low, double High)[] PredictAll(RunTable.Unit unit, int[]? columnMap = null)
    {
        var progress = ProgressOf(unit, unit.Times.Length - 1, columnMap);
        var ages = unit.Times.Select(t => t - unit.Times[0]).ToArray();
        if (Fitted is { } fitted && !Blend)
        {
            return fitted.PredictAll(_curves, ages, progress);
        }

        var result = new (double Rul, double Low, double High)[progress.Length];
        var estimates = new double[_curves.Length];
        for (var i = 0; i < progress.Length; i++)
        {
            result[i] = Predict(ages, progress, i, estimates);
        }

        if (Fitted is { } blended)
        {
            var fit = blended.PredictAll(_curves, ages, progress);
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = Mean(fit[i], result[i]);
            }
        }

        return result;
    }

    /// <summary>The blend of a fit's answer and the lookup's. For a unit older than every life the fit can stretch to
    /// (4.5 times the longest, and a fifth more), the fit's answer has fallen to 0 and the blend is half the lookup's:
    /// continuous as the unit ages, rather than doubling at that age.</summary>
    private static (double Rul, double Low, double High) Mean((double Rul, double Low, double High) fit, (double Rul, double Low, double High) lookup) =>
        ((fit.Rul + lookup.Rul) / 2, (fit.Low + lookup.Low) / 2, (fit.High + lookup.High) / 2);

    /// <summary>The most a unit's pace is taken to differ from a population curve's, either way.</summary>
    private const double MaxPaceRatio = 3;

    /// <summary>
    /// Remaining life of a unit at progress <paramref name="progress"/> (0 new, 1 at its limit) and age
    /// <paramref name="age"/> (time since it was new), with the raw 10th–90th percentile interval: for a caller that
    /// keeps its own progress, as a device twin does. Thread-safe.
    /// </summary>
    public (double Rul, double Low, double High) PredictAt(double progress, double age)
    {
        // An unknown progress (a NaN health) says nothing of the unit: the answer is the population's, its lives beyond
        // the age (the lookup at progress 0; a fit of a row at 0 would read it as a unit that has not worn, and favour
        // long lives). An unknown age says nothing of its pace: the lookup takes it as on each curve's (a fit has no
        // trajectory to weigh, whatever the method). An infinite age is the longest a curve may hold.
        (double Rul, double Low, double High) Lookup(double at, double q) => Predict([at], [q], 0, new double[_curves.Length]);
        if (double.IsNaN(progress) || double.IsNaN(age))
        {
            return Lookup(age, double.IsNaN(progress) ? 0 : Math.Clamp(progress, 0, 1));
        }

        (progress, age) = (Math.Clamp(progress, 0, 1), Math.Clamp(age, -MaxTime, MaxTime));
        if (Fitted is not { } fitted)
        {
            return Lookup(age, progress);
        }

        var fit = fitted.PredictAll(_curves, [age], [progress])[0];
        return Blend ? Mean(fit, Lookup(age, progress)) : fit;
    }

    private (double Rul, double Low, double High) Predict(double[] ages, double[] progress, int row, double[] estimates)
    {
        if (progress[row] >= 1 || _curves.Length == 0)
        {
            return (0, 0, 0);
        }

        var q = progress[row];
        for (var v = 0; v < _curves.Length; v++)
        {
            var curve = _curves[v];
            var reached = AgeAt(curve, q);
            var age = double.IsNaN(ages[row]) ? reached : ages[row];
            // How much slower (above 1) this unit reached q than v did, trusted as far as the unit has come: near the
            // start its own pace says little.
            var ratio = Math.Clamp((age + 1) / (reached + 1), 1 / MaxPaceRatio, MaxPaceRatio);
            // A unit older than v was at this progress has used up the difference, as far as its pace does not explain it.
            var trust = Math.Min(1, 2 * q);
            var estimate = ((curve.Life - reached) * Math.Pow(ratio, trust)) - ((1 - trust) * Math.Max(0, age - reached));
            estimates[v] = Math.Max(0, estimate);
        }

        Array.Sort(estimates);
        return (Quantile(estimates, 0.5), Quantile(estimates, 0.1), Quantile(estimates, 0.9));
    }

    /// <summary>The age at which a training unit first reached progress <paramref name="q"/> (its life if it never did).</summary>
    private static double AgeAt(Curve curve, double q)
    {
        // Progress never decreases: the first row at or above q is found by halving.
        var (low, high) = (0, curve.Progress.Length);
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            (low, high) = curve.Progress[middle] >= q ? (low, middle) : (middle + 1, high);
        }

        if (low == curve.Progress.Length)
        {
            return curve.Life;
        }

        if (low == 0)
        {
            return curve.Ages[0];
        }

        var (p0, p1) = (curve.Progress[low - 1], curve.Progress[low]);
        var share = p1 > p0 ? (q - p0) / (p1 - p0) : 1;
        return curve.Ages[low - 1] + (share * (curve.Ages[low] - curve.Ages[low - 1]));
    }

    /// <summary>Linear-interpolation quantile of sorted values.</summary>
    internal static double Quantile(IReadOnlyList<double> sorted, double q)
    {
        if (sorted.Count == 0)
        {
            return 0;
        }

        var position = q * (sorted.Count - 1);
        var low = (int)Math.Floor(position);
        var high = Math.Min(low + 1, sorted.Count - 1);
        return sorted[low] + ((position - low) * (sorted[high] - sorted[low]));
    }
}
