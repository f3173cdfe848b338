using Telemetry.Models.Rul;
using Telemetry.Models.Wear;

namespace Telemetry.Models.Learning;

/// <summary>
/// The degradation-curve method of <c>train-rul</c> (<see cref="DegradationCurve"/>) for the built-in wear models, so
/// that <c>train</c> can choose between it and the FastTree regression by held-out error, and a device twin's
/// remaining km or cycles come from the method chosen. The health indicator is the one the twin keeps: cushioning
/// (from the rule model's effective km) against km for shoes, fitted battery health against cycles for bands; progress
/// runs from new (0) to the replacement limit (1: 60% cushioning, 80% health).
/// </summary>
public static class WearCurve
{
    /// <summary>Progress towards the replacement limit of a shoe's cushioning or a band's health, in percent of new.</summary>
    public static double Progress(string kind, double healthPct)
    {
        var limit = kind == "shoe" ? CushioningCurve.ReplaceNowPct : BatteryFade.DegradedPct;
        return Math.Clamp((100 - healthPct) / (100 - limit), 0, 1);
    }

    /// <summary>The health indicator and age of one example's features (see <see cref="WearFeatures"/>).</summary>
    public static (double HealthPct, double Age) Of(string kind, float[] features) => kind == "shoe"
        ? (CushioningCurve.PercentAt(features[5]), features[0])
        : (features[6], features[0]);

    /// <summary>The population's curves from training examples, one per device, each ending at its true end of life.</summary>
    public static DegradationCurve.Curve[] Curves(string kind, IEnumerable<WearExample> examples) =>
        [.. examples.GroupBy(e => e.Device).Select(device =>
        {
            var rows = device.Select(e => (Point: Of(kind, e.Features), e.Label)).OrderBy(r => r.Point.Age).ToList();
            var highest = 0.0;
            var progress = rows.Select(r => highest = Math.Max(highest, Progress(kind, r.Point.HealthPct))).ToArray();
            return new DegradationCurve.Curve([.. rows.Select(r => r.Point.Age)], progress, rows[^1].Point.Age + rows[^1].Label);
        })];

    /// <summary>
    /// The curve fit's remaining life at every example, each device's examples (weekly, in the order made) fitted as
    /// its twin's <see cref="WearHistory"/> would hold them (its trajectory), with <paramref name="curves"/> as the prior.
    /// </summary>
    public static double[] FitAll(string kind, DegradationCurve.Curve[] curves, LifeFit fit, IReadOnlyList<WearExample> examples)
    {
        var result = new double[examples.Count];
        var served = Create(curves, fit);
        var devices = Enumerable.Range(0, examples.Count).GroupBy(i => examples[i].Device).Select(d => d.ToArray()).ToArray();
        Parallel.ForEach(devices, rows =>
        {
            // Each example is a week, recorded as the twin records it; an example whose point the history refused (a NaN
            // health) is answered at the point before it, or by the curve alone before the first, as the twin is.
            var history = new WearHistory();
            var (ages, progress, at) = (new List<double>(), new List<double>(), new int[rows.Length]);
            for (var k = 0; k < rows.Length; k++)
            {
                var (health, age) = Of(kind, examples[rows[k]].Features);
                history.Week = k;
                if (history.Record(age, Progress(kind, health)))
                {
                    ages.Add(history.Ages[^1]);
                    progress.Add(history.Progress[^1]);
                }

                at[k] = ages.Count - 1;
            }

            // A twin fits its whole history each week; a point's trajectory then depends on the points before it only,
            // but for its start (the median of the first three), so the first two points are fitted as they were then.
            var whole = ages.Count > 0 ? fit.PredictAll(curves, ages, WearHistory.Limited(progress)) : [];
            for (var k = 0; k < rows.Length; k++)
            {
                var point = at[k];
                result[rows[k]] = point switch
                {
                    < 0 => served.PredictAt(double.NaN, Of(kind, examples[rows[k]].Features).Age).Rul,
                    < 2 => fit.PredictAll(curves, ages[..(point + 1)], WearHistory.Limited(progress[..(point + 1)]))[point].Rul,
                    _ => whole[point].Rul,
                };
            }
        });
        return result;
    }

    /// <summary>A curve model over the given population (the indicator's column and limit are implied by the kind); with
    /// <paramref name="fit"/>, the curve fit of each device's trajectory instead of the lookup.</summary>
    public static DegradationCurve Create(DegradationCurve.Curve[] curves, LifeFit? fit = null) => new(0, -1, null, 0, 1, curves, fit);
}
