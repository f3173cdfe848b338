using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace Telemetry.Models.Learning;

/// <summary>Held-out results of one learned wear model, and what its interval needs at scoring time.</summary>
public sealed record WearModelReport
{
    public required string Kind { get; init; }

    public required string Version { get; init; }

    public required string Unit { get; init; }

    public required int TrainDevices { get; init; }

    public required int TestDevices { get; init; }

    public required int TestExamples { get; init; }

    /// <summary>MAE of the method served (see <see cref="Method"/>).</summary>
    public required double MaeModel { get; init; }

    public required double MaeRule { get; init; }

    /// <summary>MAE of the FastTree regression on the held-out devices (null in reports from before the choice).</summary>
    public double? MaeRegression { get; init; }

    /// <summary>
    /// MAE of train-rul's degradation-curve method on the same held-out devices, fitted on the training devices
    /// (null in reports from before the choice).
    /// </summary>
    public double? MaeCurve { get; init; }

    /// <summary>
    /// MAE of train-rul's curve fit on the same held-out devices: each device's weekly trajectory fitted with the
    /// training devices' curves as the prior, its settings chosen on the calibration devices (null in reports from
    /// before it was offered).
    /// </summary>
    public double? MaeCurveFit { get; init; }

    /// <summary>The method served, the one with the lowest <see cref="ChoiceMae"/>: <c>regression</c> (FastTree, the
    /// default), <c>curve</c> or <c>curve fit</c>.</summary>
    public string Method { get; init; } = "regression";

    /// <summary>Each method's MAE on the half of the calibration devices that chose it (the other half chose the fit's
    /// settings; the test devices only measure); absent in reports from before.</summary>
    public Dictionary<string, double>? ChoiceMae { get; init; }

    /// <summary>The training devices' degradation curves, when a curve method is served.</summary>
    public Rul.DegradationCurve.Curve[]? Curves { get; init; }

    /// <summary>The curve fit's prior and settings, when it is served.</summary>
    public Rul.LifeFit? Fit { get; init; }

    /// <summary>1 − MAE(model) / MAE(rule): the share of the rule model's error removed. Target ≥ 0.30.</summary>
    public double Improvement => 1 - (MaeModel / MaeRule);

    /// <summary>Share of held-out true values inside [p10, p90]. Target 0.70–0.90.</summary>
    public required double Coverage { get; init; }

    /// <summary>Relative residual quantiles from the calibration devices: p10 = prediction + Low × scale.</summary>
    public required double Low { get; init; }

    public required double High { get; init; }

    /// <summary>The scale floor of the interval, in the model's unit (so that a prediction near 0 still has a width).</summary>
    public required double Floor { get; init; }

    public required string[] Features { get; init; }

    /// <summary>Median of each feature over the training examples: the "typical device" that drivers are
    /// measured against.</summary>
    public float[] Typical { get; init; } = [];
}

/// <summary>
/// Trains a learned wear model (FastTree regression of the remaining life) on generated devices, calibrates a
/// p10–p90 interval from relative residuals on separate calibration devices, and measures both against the
/// rule model on test devices that neither step has seen.
/// </summary>
public static class WearTrainer
{
    public static (ITransformer Model, MLContext Ml, WearModelReport Report) Train(
        string kind, List<WearExample> train, List<WearExample> calibration, List<WearExample> test, int seed, string version, IProgress<string>? progress = null)
    {
        var features = kind == "shoe" ? WearFeatures.ShoeNames : WearFeatures.BandNames;
        var ml = new MLContext(seed);
        var schema = Schema(features.Length);
        var data = ml.Data.LoadFromEnumerable(train.Select(e => new Row { Features = e.Features, Label = e.Label }), schema);
        var model = ml.Regression.Trainers.FastTree(new FastTreeRegressionTrainer.Options
        {
            NumberOfTrees = 300,
            NumberOfLeaves = 31,
            MinimumExampleCountPerLeaf = 20,
            LearningRate = 0.08,
        }).Fit(data);

        // train-rul's three methods on the same held-out devices: the regression above, a degradation curve of the
        // health indicator looked up in the training devices' curves, and the fit of each device's weekly trajectory
        // with those curves as the prior. The calibration devices are halved: the fit's settings are chosen on one half,
        // the method on the other (a fit judged where its settings were chosen would be favoured), and all three are
        // measured on the test devices, which no choice saw. The interval is calibrated on all of them.
        var curves = WearCurve.Curves(kind, train);
        var curve = WearCurve.Create(curves);
        double CurveAt(WearExample e)
        {
            var (health, age) = WearCurve.Of(kind, e.Features);
            return curve.PredictAt(WearCurve.Progress(kind, health), age).Rul;
        }

        // The fit's settings on the calibration devices: evidence and memory without a shift (the generated devices share
        // one shape of curve), then the best of them with train-rul's shift, which real cells needed.
        var (tuning, choosing) = Halves(calibration);
        progress?.Report($"{kind}: choosing the curve fit's settings on {tuning.Count} calibration examples");
        (Rul.LifeFit Fit, double[] Predicted) Scored(Rul.LifeFit f) => (f, WearCurve.FitAll(kind, curves, f, tuning));
        var unshifted = Rul.RulTrainer.Evidences
            .SelectMany(e => Rul.RulTrainer.Memories.Select(m => Scored(Rul.LifeFit.From(curves, e, m, shift: 0))))
            .MinBy(f => Mae(tuning, f.Predicted));
        var fit = new[] { unshifted, Scored(unshifted.Fit with { Shift = Rul.LifeFit.DefaultShift }) }.MinBy(f => Mae(tuning, f.Predicted)).Fit;
        progress?.Report(FormattableString.Invariant($"{kind}: curve fit with evidence {fit.Evidence}, memory {fit.Memory} a row and shift {fit.Shift} (lowest calibration MAE of {(Rul.RulTrainer.Evidences.Length * Rul.RulTrainer.Memories.Length) + 1})"));

        progress?.Report($"{kind}: measuring the three methods on {test.Count} held-out examples");
        var regressionTest = Predict(ml, model, schema, test).Select(p => Math.Max(0, (double)p)).ToArray();
        var curveTest = test.Select(CurveAt).ToArray();
        var fitTest = WearCurve.FitAll(kind, curves, fit, test);
        var maeRegression = Mae(test, regressionTest);
        var maeCurve = Mae(test, curveTest);
        var maeFit = Mae(test, fitTest);
        var maeRule = test.Average(e => Math.Abs(e.RuleRemaining - e.Label));
        // Each method as served (the regression never below 0), on the calibration devices: chosen on one half, its
        // interval calibrated on all.
        (string Name, double[] Test, double Mae, Func<List<WearExample>, double[]> Served)[] methods =
        [
            ("regression", regressionTest, maeRegression, examples => [.. Predict(ml, model, schema, examples).Select(p => Math.Max(0, (double)p))]),
            ("curve", curveTest, maeCurve, examples => [.. examples.Select(CurveAt)]),
            ("curve fit", fitTest, maeFit, examples => WearCurve.FitAll(kind, curves, fit, examples)),
        ];
        var choice = methods.Select(m => m.Served(choosing)).ToList();
        var (method, predicted, maeModel, served) = methods[Choose(choosing, choice)];
        var calibrated = served(calibration);

        progress?.Report($"{kind}: {method} chosen (lowest MAE on {choosing.Count} calibration examples); calibrating its p10–p90 interval on {calibration.Count}");
        var floor = kind == "shoe" ? 50.0 : 20.0;
        var relative = calibration.Select((e, i) => (e.Label - calibrated[i]) / Math.Max(calibrated[i], floor)).Order().ToList();
        var low = relative[(int)(0.1 * (relative.Count - 1))];
        var high = relative[(int)(0.9 * (relative.Count - 1))];
        var inside = test.Where((e, i) =>
        {
            var scale = Math.Max(predicted[i], floor);
            return e.Label >= predicted[i] + (low * scale) && e.Label <= predicted[i] + (high * scale);
        }).Count();

        return (model, ml, new WearModelReport
        {
            Kind = kind,
            Version = version,
            Unit = kind == "shoe" ? "km" : "cycles",
            TrainDevices = train.Select(e => e.Device).Distinct().Count(),
            TestDevices = test.Select(e => e.Device).Distinct().Count(),
            TestExamples = test.Count,
            MaeModel = maeModel,
            MaeRule = maeRule,
            MaeRegression = maeRegression,
            MaeCurve = maeCurve,
            MaeCurveFit = maeFit,
            Method = method,
            ChoiceMae = methods.Select((m, k) => (m.Name, Mae(choosing, choice[k]))).ToDictionary(),
            Curves = method == "regression" ? null : curves,
            Fit = method == "curve fit" ? fit : null,
            Coverage = (double)inside / test.Count,
            Low = low,
            High = high,
            Floor = floor,
            Features = features,
            Typical = [.. Enumerable.Range(0, features.Length).Select(f => train.Select(e => e.Features[f]).Order().ElementAt(train.Count / 2))],
        });
    }

    /// <summary>Writes <c>{kind}-rul.zip</c> (ML.NET) and <c>{kind}-rul.json</c> (the report, with the interval).</summary>
    public static void Save(string directory, MLContext ml, ITransformer model, WearModelReport report)
    {
        Directory.CreateDirectory(directory);
        var schema = ml.Data.LoadFromEnumerable(Array.Empty<Row>(), Schema(report.Features.Length)).Schema;
        ml.Model.Save(model, schema, Path.Combine(directory, $"{report.Kind}-rul.zip"));
        File.WriteAllText(Path.Combine(directory, $"{report.Kind}-rul.json"),
            JsonSerializer.Serialize(report, Indented));
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The calibration examples in two halves of whole devices (alternately, in order of first appearance).</summary>
    internal static (List<WearExample> First, List<WearExample> Second) Halves(List<WearExample> examples)
    {
        var order = examples.Select(e => e.Device).Distinct().Select((d, k) => (d, k)).ToDictionary(x => x.d, x => x.k);
        return ([.. examples.Where(e => order[e.Device] % 2 == 0)], [.. examples.Where(e => order[e.Device] % 2 == 1)]);
    }

    /// <summary>The method served: the one whose predictions of the choosing devices err least (the test devices
    /// only measure it, so its reported error is not the luckiest of three).</summary>
    internal static int Choose(List<WearExample> calibration, IReadOnlyList<double[]> predictions) =>
        Enumerable.Range(0, predictions.Count).MinBy(m => Mae(calibration, predictions[m]));

    private static double Mae(List<WearExample> examples, double[] predicted) => examples.Select((e, i) => Math.Abs(predicted[i] - e.Label)).Average();

    internal static SchemaDefinition Schema(int featureCount)
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
        return schema;
    }

    private static float[] Predict(MLContext ml, RegressionPredictionTransformer<FastTreeRegressionModelParameters> model, SchemaDefinition schema, List<WearExample> examples) =>
        [.. model.Transform(ml.Data.LoadFromEnumerable(examples.Select(e => new Row { Features = e.Features }), schema)).GetColumn<float>("Score")];

    /// <summary>An example as ML.NET sees it.</summary>
    public sealed class Row
    {
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }
}
