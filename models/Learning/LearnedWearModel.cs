using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.ML;
using Telemetry.Models.Wear;

namespace Telemetry.Models.Learning;

/// <summary>
/// The learned wear models, served. Cushioning and battery health come from the rule model (published
/// physics); the remaining life and its p10–p90 interval come from the FastTree models trained by
/// <c>train</c>. Artifacts are loaded once; predictions go through a pool of prediction engines (an engine
/// is not thread-safe, and creating one per call would cost far more than the prediction), each with its
/// own input buffer, so a prediction allocates nothing.
/// </summary>
public sealed class LearnedWearModel : IWearModel, IExplainableWearModel
{
    private readonly RuleWearModel _rules = new();
    private readonly Scorer _shoe;
    private readonly Scorer _band;

    private LearnedWearModel(Scorer shoe, Scorer band)
    {
        _shoe = shoe;
        _band = band;
        Version = $"{shoe.Report.Version}+{band.Report.Version}";
    }

    public string Version { get; }

    /// <summary>Where the shipped models are copied next to the binaries (from models/trained/).</summary>
    public static string DefaultDirectory => Path.Combine(AppContext.BaseDirectory, "trained");

    /// <summary>Loads <c>shoe-rul.zip/.json</c> and <c>band-rul.zip/.json</c> from <paramref name="directory"/>.</summary>
    public static LearnedWearModel Load(string directory)
    {
        var ml = new MLContext(0);
        return new LearnedWearModel(Scorer.Load(ml, directory, "shoe"), Scorer.Load(ml, directory, "band"));
    }

    public ShoeWearEstimate EstimateShoe(in ShoeWearInput input) => EstimateShoe(input, null);

    /// <summary>With the curve fit, the shoe's point of the week is recorded in <paramref name="history"/> and the
    /// remaining km come from its fit; the other methods ignore the history.</summary>
    public ShoeWearEstimate EstimateShoe(in ShoeWearInput input, WearHistory? history)
    {
        var rule = _rules.EstimateShoe(input);
        var engine = _shoe.Rent();
        try
        {
            WearFeatures.Shoe(input, rule, engine.Input.Features);
            var (p, low, high) = _shoe.Predict(engine, history);
            return rule with { RemainingKm = p, RemainingKmP10 = low, RemainingKmP90 = high, ModelVersion = _shoe.Report.Version };
        }
        finally
        {
            _shoe.Return(engine);
        }
    }

    public BandWearEstimate EstimateBand(in BandWearInput input) => EstimateBand(input, null);

    /// <summary>The band's counterpart of <see cref="EstimateShoe(in ShoeWearInput, WearHistory?)"/>.</summary>
    public BandWearEstimate EstimateBand(in BandWearInput input, WearHistory? history)
    {
        var rule = _rules.EstimateBand(input);
        if (input.ReferenceCapacityMah <= 0)
        {
            return rule;
        }

        var engine = _band.Rent();
        try
        {
            WearFeatures.Band(input, rule, engine.Input.Features);
            var (p, low, high) = _band.Predict(engine, history);
            return rule with { RemainingCycles = p, RemainingCyclesP10 = low, RemainingCyclesP90 = high, ModelVersion = _band.Report.Version };
        }
        finally
        {
            _band.Return(engine);
        }
    }

    public string ShoeDrivers(in ShoeWearInput input, int top = 3)
    {
        var rule = _rules.EstimateShoe(input);
        var features = new float[WearFeatures.ShoeCount];
        WearFeatures.Shoe(input, rule, features);
        return _shoe.Drivers(features, top, "km");
    }

    public string BandDrivers(in BandWearInput input, int top = 3)
    {
        var rule = _rules.EstimateBand(input);
        var features = new float[WearFeatures.BandCount];
        WearFeatures.Band(input, rule, features);
        return _band.Drivers(features, top, "cycles");
    }

    /// <summary>
    /// One model with its interval and a pool of engines. When <c>train</c> chose a degradation-curve method, the
    /// remaining life comes from the curve (train-rul's <see cref="Rul.DegradationCurve"/>) on the same features, or
    /// for the curve fit from the fit of the twin's weekly history (<see cref="WearHistory"/>; without one, of the
    /// current point alone); the engines then only serve the drivers' baseline shape.
    /// </summary>
    private sealed class Scorer(MLContext ml, ITransformer model, WearModelReport report)
    {
        private readonly Rul.DegradationCurve? _curve = report switch
        {
            { Method: "curve", Curves: { Length: > 0 } curves } => WearCurve.Create(curves),
            { Method: "curve fit", Curves: { Length: > 0 } curves, Fit: { } fit } => WearCurve.Create(curves, fit),
            _ => null,
        };

        private static long _scorers;

        /// <summary>This scorer's number, which a twin's cached fit names (<see cref="WearHistory.FitCache"/>).</summary>
        private readonly long _id = Interlocked.Increment(ref _scorers);

        // A few slots taken and returned with one interlocked exchange each: a ConcurrentBag made threads steal each
        // other's engines under its lock (5% of the CPU of a fleet coming back went to that lock).
        private readonly PooledEngine?[] _pool = new PooledEngine?[Math.Max(4, 2 * Environment.ProcessorCount)];

        public WearModelReport Report { get; } = report;

        public static Scorer Load(MLContext ml, string directory, string kind)
        {
            var zip = Path.Combine(directory, $"{kind}-rul.zip");
            var json = Path.Combine(directory, $"{kind}-rul.json");
            if (!File.Exists(zip) || !File.Exists(json))
            {
                throw new FileNotFoundException($"The {kind} model is missing: expected {zip} and {json} (made by 'dotnet run --project models -- train').");
            }

            WearModelReport report;
            try
            {
                report = JsonSerializer.Deserialize<WearModelReport>(File.ReadAllText(json)) ?? throw new JsonException("null");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{json} is not a model report ({e.Message}).", e);
            }

            if (report.Kind != kind)
            {
                throw new InvalidDataException($"{json} is the report of a {report.Kind} model, not of a {kind} model.");
            }

            if (!(double.IsFinite(report.Low) && double.IsFinite(report.High) && report.Low <= report.High && report.Floor is > 0 and < 1e100
                && Math.Abs(report.Low) < 1e6 && Math.Abs(report.High) < 1e6))
            {
                throw new InvalidDataException($"{json}: its interval (Low {report.Low}, High {report.High}, Floor {report.Floor}) cannot be served.");
            }

            if (report.Method is not ("regression" or "curve" or "curve fit")
                || (report.Method != "regression" && !(Rul.DegradationCurve.CanBeScored(report.Curves) && report.Curves!.Any(Rul.DegradationCurve.IsUsable)))
                || (report.Method == "curve fit" && report.Fit?.CanBeScored() != true))
            {
                throw new InvalidDataException($"{json}: method '{report.Method}' without what it needs to score (curves with a life, and for the curve fit its settings within bounds).");
            }

            return new Scorer(ml, ml.Model.Load(zip, out _), report);
        }

        /// <summary>
        /// Drivers by substitution: each input in turn is set to the typical device's value, and the change
        /// in the prediction is that input's effect (negative: it shortens the remaining life). Only used
        /// when an alert is raised, so its cost (one prediction per feature) does not matter.
        /// </summary>
        public string Drivers(float[] features, int top, string unit)
        {
            if (Report.Typical.Length != features.Length)
            {
                return string.Empty;
            }

            var engine = Rent();
            try
            {
                features.CopyTo(engine.Input.Features, 0);
                var baseline = Predict(engine).Prediction;
                var effects = new List<(string Name, double Effect)>();
                for (var f = 0; f < features.Length; f++)
                {
                    if (Report.Features[f].StartsWith("rule_", StringComparison.Ordinal))
                    {
                        continue; // derived from the others; their effects already include it
                    }

                    features.CopyTo(engine.Input.Features, 0);
                    engine.Input.Features[f] = Report.Typical[f];
                    effects.Add((Report.Features[f], baseline - Predict(engine).Prediction));
                }

                return string.Join("; ", effects.OrderByDescending(e => Math.Abs(e.Effect)).Take(top)
                    .Select(e => FormattableString.Invariant($"{e.Name} {e.Effect:+0;-0} {unit}")));
            }
            finally
            {
                Return(engine);
            }
        }

        public PooledEngine Rent()
        {
            for (var i = 0; i < _pool.Length; i++)
            {
                if (Volatile.Read(ref _pool[i]) is not null && Interlocked.Exchange(ref _pool[i], null) is { } engine)
                {
                    return engine;
                }
            }

            return new PooledEngine(ml, model, Report.Features.Length);
        }

        /// <summary>Keeps the engine if a slot is free; otherwise it is left to the GC (more threads scored at once
        /// than there are slots).</summary>
        public void Return(PooledEngine engine)
        {
            for (var i = 0; i < _pool.Length; i++)
            {
                if (Volatile.Read(ref _pool[i]) is null && Interlocked.CompareExchange(ref _pool[i], engine, null) is null)
                {
                    return;
                }
            }
        }

        public (double Prediction, double Low, double High) Predict(PooledEngine engine, WearHistory? history = null)
        {
            double p;
            if (_curve is not null)
            {
                var (health, age) = WearCurve.Of(Report.Kind, engine.Input.Features);
                var progress = WearCurve.Progress(Report.Kind, health);
                p = _curve.Fitted is { } fit && history is not null ? FromHistory(fit, history, age, progress) : _curve.PredictAt(progress, age).Rul;
            }
            else
            {
                engine.Engine.Predict(engine.Input, ref engine.Output);
                p = Math.Max(0, (double)engine.Output.Score);
            }

            var scale = Math.Max(p, Report.Floor);
            return (p, Math.Max(0, p + (Report.Low * scale)), Math.Max(0, p + (Report.High * scale)));
        }

        /// <summary>
        /// The fit of the twin's weekly history: this estimate's point is added if its week has none, and the history
        /// is fitted again only then (1.3–1.9 ms and 0.3–0.5 MB for 48 points, once a week a twin); in between, the last fit's
        /// answer less the km or cycles used since (24 ns, nothing allocated).
        /// </summary>
        private double FromHistory(Rul.LifeFit fit, WearHistory history, double age, double progress)
        {
            history.Record(age, progress);
            if (progress >= 1)
            {
                // At the limit now, nothing is left now, as the lookup says too; the trajectory keeps no more of a glitch
                // than a tenth, so the next estimate that is not at the limit is the fit's again.
                return 0;
            }

            if (history.Count == 0)
            {
                return _curve!.PredictAt(progress, age).Rul;
            }

            if (history.Cached is not { } cached || cached.Model != _id || cached.Version != history.Version)
            {
                var last = history.Count - 1;
                cached = new WearHistory.FitCache(_id, history.Version, history.Ages[last], fit.PredictAll(_curve!.Curves, history.Ages, history.Trajectory(), from: last)[last].Rul);
                history.Cached = cached;
            }

            return Math.Max(0, cached.Rul - Math.Max(0, age - cached.Age));
        }
    }

    private sealed class PooledEngine
    {
        public PooledEngine(MLContext ml, ITransformer model, int features)
        {
            Input = new WearTrainer.Row { Features = new float[features] };
            Engine = ml.Model.CreatePredictionEngine<WearTrainer.Row, Prediction>(model, inputSchemaDefinition: WearTrainer.Schema(features));
        }

        public WearTrainer.Row Input { get; }

        public PredictionEngine<WearTrainer.Row, Prediction> Engine { get; }

        public Prediction Output = new();
    }

    /// <summary>The model's output column.</summary>
    public sealed class Prediction
    {
        public float Score { get; set; }
    }
}
