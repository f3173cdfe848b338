namespace Telemetry.Models.Rul;

/// <summary>
/// The fitted variant of <see cref="DegradationCurve"/>: each unit's own trajectory fitted with the population's
/// curves as the prior. The unit is taken to follow one of the training units' progress curves, stretched in time
/// by a factor s (its life is s times that unit's); the prior on s is log-normal about 1 with the spread of the
/// training lives. The posterior over (curve, s) weighs that prior by how well the stretched curve fits every row
/// of the unit seen so far, each row counting as <see cref="Evidence"/> of an independent one (rows of one unit are
/// far from independent; the cross-validated search chooses how much they count). Early in a life the prior speaks
/// (the population's lives, less what is known to be used up); later the curves the unit actually resembles, so a
/// plateau or a knee that some training units had is expected again. With <see cref="Shift"/>, the curve may also
/// start a share f of its stretched life later or earlier (f in {−Shift, 0, +Shift}, a normal prior of that spread): a
/// unit that holds flat longer than its curve did, or falls from its first row where its curve held flat first (the
/// NASA cells do both). Remaining life is the posterior mean of <c>life − age</c> over lives longer than the unit's
/// age, and its 10th and 90th percentiles the raw interval.
/// </summary>
/// <param name="Spread">Root mean square of the training units' progress about their mean curve: the scale of a misfit.</param>
/// <param name="LogSpread">Spread of log lives for a new unit (the sample's, widened for a small sample).</param>
/// <param name="Evidence">Weight of one row's fit against the prior.</param>
/// <param name="Memory">How much of a row's weight is left one row later (1: every row counts alike; below 1, the
/// recent rows more: a unit near its end is judged by where it is now more than by how it got there).</param>
/// <param name="Shift">Share of its life a unit's curve may start later or earlier; 0 (fits written before it) for none.</param>
public sealed record LifeFit(double Spread, double LogSpread, double Evidence, double Memory = 1, double Shift = 0)
{
    /// <summary>The shift of a new fit. Measured with nested cross-validation (2026-11-29): the fit's error on the NASA
    /// cells at 1.4 Ah 8.7% of life instead of 11.4%, at 80% 16.1% instead of 16.6%, on the CALCE-like cells 3.8%
    /// instead of 4.5%; ±0.1 and five or seven shifts did no better, and cost more.</summary>
    internal const double DefaultShift = 0.2;

    internal const double MaxShift = 0.5;

    private const int ShapePoints = 101;

    /// <summary>Stretches tried, evenly spaced in log from 1/e^1.5 to e^1.5 (a life 4.5 times shorter or longer).</summary>
    private const int StretchPoints = 121;

    /// <summary>Stretches tried with three shifts, so that the cost grows by half, not threefold: 61 gave the same
    /// errors as 121 on every set of cells measured.</summary>
    private const int ShiftedStretchPoints = 61;

    private const double MaxLogStretch = 1.5;

    /// <summary>Samples of each curve over its life, enough to follow a knee in a few hundred rows.</summary>
    private const int ResamplePoints = 256;

    /// <summary>Curves the posterior mixes at most (evenly by life among more): the cost is rows × curves × stretches × shifts.</summary>
    private const int MaxCurves = 40;

    /// <summary>Least spread assumed of progress about the mean curve: a handful of smooth units would otherwise leave none.</summary>
    internal const double MinSpread = 0.02;

    /// <summary>Least spread assumed of log lives: a few similar units say little about the next one.</summary>
    internal const double MinLogSpread = 0.05;

    /// <summary>Most spread assumed of log lives: far wider than the stretches tried (±1.5), so the prior is flat there already.</summary>
    internal const double MaxLogSpread = 10;

    public static LifeFit From(IReadOnlyList<DegradationCurve.Curve> curves, double evidence, double memory = 1, double shift = DefaultShift)
    {
        var usable = Usable(curves);
        if (usable.Count == 0)
        {
            throw new ArgumentException("A life fit needs at least one training unit with a life above zero.", nameof(curves));
        }

        var samples = usable.Select(c => Enumerable.Range(0, ShapePoints).Select(k => ProgressAt(c, k * c.Life / (ShapePoints - 1))).ToArray()).ToList();
        var mean = Enumerable.Range(0, ShapePoints).Select(k => samples.Average(s => s[k])).ToArray();
        var squares = samples.SelectMany(s => s.Select((p, k) => (p - mean[k]) * (p - mean[k]))).Average();
        var logs = usable.Select(c => Math.Log(c.Life)).ToList();
        var logMean = logs.Average();
        var variance = logs.Count > 1 ? logs.Sum(l => (l - logMean) * (l - logMean)) / (logs.Count - 1) : 0;
        // The spread of the next unit's life, not of the sample's mean: one more unit's worth of uncertainty.
        var logSpread = Math.Clamp(Math.Sqrt(variance * (1 + (1.0 / logs.Count))), MinLogSpread, MaxLogSpread);
        return new LifeFit(Math.Max(MinSpread, Math.Sqrt(squares)), logSpread, evidence, memory, shift);
    }

    /// <summary>Whether a fit read from a file can be scored: its spreads, evidence and memory within what training writes.</summary>
    public bool CanBeScored() => Spread is >= MinSpread and <= 10 && LogSpread is >= MinLogSpread and <= MaxLogSpread
        && Evidence is > 0 and <= 1e6 && Memory is > 0 and <= 1 && Shift is >= 0 and <= MaxShift;

    /// <summary>
    /// Remaining life at each row of one unit from row <paramref name="from"/> on (earlier rows count towards the fit
    /// but are not answered: 0), given its ages since its first row and its progress (0 new, 1 at its limit) at each
    /// of them, with the posterior's 10th–90th percentile interval.
    /// </summary>
    public (double Rul, double Low, double High)[] PredictAll(IReadOnlyList<DegradationCurve.Curve> population, IReadOnlyList<double> ages, IReadOnlyList<double> progress, int from = 0)
    {
        var curves = Usable(population);
        var result = new (double, double, double)[progress.Count];
        if (curves.Count == 0)
        {
            return result;
        }

        // Cells are (curve, stretch, shift); a cell's life is the curve's stretched by s, delayed or advanced by f of it.
        var (stretchCount, shifts) = Shift > 0 ? (ShiftedStretchPoints, new[] { -Shift, 0, Shift }) : (StretchPoints, [0.0]);
        var per = stretchCount * shifts.Length;
        var (stretchOf, shiftOf, prior) = (new double[per], new double[per], new double[per]);
        for (var g = 0; g < stretchCount; g++)
        {
            var stretch = Math.Exp(MaxLogStretch * ((2.0 * g / (stretchCount - 1)) - 1));
            for (var k = 0; k < shifts.Length; k++)
            {
                var j = (g * shifts.Length) + k;
                (stretchOf[j], shiftOf[j]) = (stretch, shifts[k]);
                prior[j] = (-0.5 * Math.Pow(Math.Log(stretch) / LogSpread, 2)) - (Shift > 0 ? 0.5 * Math.Pow(shifts[k] / Shift, 2) : 0);
            }
        }

        var cells = curves.Count * per;
        var misfit = new double[cells];
        var lives = new double[cells];
        var weights = new double[cells];
        for (var v = 0; v < curves.Count; v++)
        {
            for (var j = 0; j < per; j++)
            {
                lives[(v * per) + j] = stretchOf[j] * curves[v].Life * (1 + shiftOf[j]);
            }
        }

        // Each curve resampled evenly over its life: a row's progress on a stretched curve is then an index, not a search.
        var resampled = curves.Select(c => Enumerable.Range(0, ResamplePoints).Select(k => ProgressAt(c, k * c.Life / (ResamplePoints - 1))).ToArray()).ToArray();

        // A row of age a sits at index a × slope − offset of its cell's resampled curve: (a − f·s·L) / s, in samples.
        var (slope, offset) = (new double[cells], new double[cells]);
        for (var v = 0; v < curves.Count; v++)
        {
            var perAge = (ResamplePoints - 1) / curves[v].Life;
            for (var j = 0; j < per; j++)
            {
                (slope[(v * per) + j], offset[(v * per) + j]) = (perAge / stretchOf[j], shiftOf[j] * (ResamplePoints - 1));
            }
        }

        var order = Enumerable.Range(0, cells).OrderBy(c => lives[c]).ToArray();
        var scale = Evidence / (2 * Spread * Spread);
        for (var i = 0; i < progress.Count; i++)
        {
            var (age, share) = (ages[i], progress[i]);
            for (var v = 0; v < curves.Count; v++)
            {
                var samples = resampled[v];
                for (var c = v * per; c < (v + 1) * per; c++)
                {
                    var residual = share - Sample(samples, (age * slope[c]) - offset[c]);
                    misfit[c] = (Memory * misfit[c]) + (residual * residual);
                }
            }

            if (i < from || share >= 1)
            {
                continue;
            }

            // Only lives longer than the unit's age remain possible: it has not reached its limit.
            var best = double.NegativeInfinity;
            for (var c = 0; c < cells; c++)
            {
                weights[c] = lives[c] > age ? prior[c % per] - (scale * misfit[c]) : double.NegativeInfinity;
                best = Math.Max(best, weights[c]);
            }

            if (double.IsNegativeInfinity(best))
            {
                continue;
            }

            double total = 0, mean = 0;
            for (var c = 0; c < cells; c++)
            {
                // Cells below e^-36 of the best add less than 2e-12 in all (7,320 of them at most): most cells, once a unit
                // has some rows. So a fit written before shifts scores as it did to about 1e-12, not to the last bit.
                weights[c] = weights[c] - best > -36 ? Math.Exp(weights[c] - best) : 0;
                total += weights[c];
                mean += weights[c] * (lives[c] - age);
            }

            // The percentiles fall on the grid of lives; the mean need not, so the band is widened to hold it.
            var rul = mean / total;
            result[i] = (rul, Math.Min(rul, Percentile(order, lives, weights, total, 0.1) - age), Math.Max(rul, Percentile(order, lives, weights, total, 0.9) - age));
        }

        return result;
    }

    /// <summary>Linear interpolation in evenly spaced samples at fractional index <paramref name="position"/>, held at either end.</summary>
    private static double Sample(double[] samples, double position)
    {
        if (position <= 0)
        {
            return samples[0];
        }

        if (position >= samples.Length - 1)
        {
            return samples[^1];
        }

        var low = (int)position;
        return samples[low] + ((position - low) * (samples[low + 1] - samples[low]));
    }

    private static List<DegradationCurve.Curve> Usable(IReadOnlyList<DegradationCurve.Curve> curves)
    {
        var usable = curves.Where(DegradationCurve.IsUsable).OrderBy(c => c.Life).ToList();
        return usable.Count <= MaxCurves ? usable : [.. Enumerable.Range(0, MaxCurves).Select(k => usable[k * (usable.Count - 1) / (MaxCurves - 1)])];
    }

    private static double Percentile(int[] order, double[] lives, double[] weights, double total, double share)
    {
        var sum = 0.0;
        foreach (var c in order)
        {
            sum += weights[c];
            if (sum >= share * total)
            {
                return lives[c];
            }
        }

        return lives[order[^1]];
    }

    /// <summary>A training unit's progress at age <paramref name="age"/>, interpolated between its rows.</summary>
    private static double ProgressAt(DegradationCurve.Curve curve, double age)
    {
        var index = Array.BinarySearch(curve.Ages, age);
        if (index >= 0)
        {
            return curve.Progress[index];
        }

        index = ~index;
        if (index == 0)
        {
            return curve.Progress[0];
        }

        if (index == curve.Ages.Length)
        {
            return curve.Progress[^1];
        }

        var (a0, a1) = (curve.Ages[index - 1], curve.Ages[index]);
        var share = a1 > a0 ? (age - a0) / (a1 - a0) : 1;
        return curve.Progress[index - 1] + (share * (curve.Progress[index] - curve.Progress[index - 1]));
    }
}
