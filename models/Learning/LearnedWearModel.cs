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

    public ShoeWearEstimate EstimateShoe(in ShoeWearInput input)
    {
        var rule = _rules.EstimateShoe(input);
        var engine = _shoe.Rent();
        try
        {
            WearFeatures.Shoe(input, rule, engine.Input.Features);
            var (p, low, high) = _shoe.Predict(engine);
            return rule with { RemainingKm = p, RemainingKmP10 = low, RemainingKmP90 = high, ModelVersion = _shoe.Report.Version };
        }
        finally
        {
            _shoe.Return(engine);
        }
    }

    public BandWearEstimate EstimateBand(in BandWearInput input)
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
            var (p, low, high) = _band.Predict(engine);
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
    /// One model with its interval and a pool of engines. When <c>train</c> chose the degradation-curve method, the
    /// remaining life comes from the curve (train-rul's <see cref="Rul.DegradationCurve"/>) on the same features;
    /// the engines then only serve the drivers' baseline shape.
    /// </summary>
    private sealed class Scorer(MLContext ml, ITransformer model, WearModelReport report)
    {
        private readonly Rul.DegradationCurve? _curve = report is { Method: "curve", Curves: { Length: > 0 } curves } ? WearCurve.Create(curves) : null;

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

            var report = JsonSerializer.Deserialize<WearModelReport>(File.ReadAllText(json))
                ?? throw new InvalidDataException($"{json} is not a model report.");
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

        public (double Prediction, double Low, double High) Predict(PooledEngine engine)
        {
            double p;
            if (_curve is not null)
            {
                var (health, age) = WearCurve.Of(Report.Kind, engine.Input.Features);
                p = _curve.PredictAt(WearCurve.Progress(Report.Kind, health), age).Rul;
            }
            else
            {
                engine.Engine.Predict(engine.Input, ref engine.Output);
                p = Math.Max(0, (double)engine.Output.Score);
            }

            var scale = Math.Max(p, Report.Floor);
            return (p, Math.Max(0, p + (Report.Low * scale)), Math.Max(0, p + (Report.High * scale)));
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
