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
public sealed class LearnedWearModel : IWearModel
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

    /// <summary>One model with its interval and a pool of engines.</summary>
    private sealed class Scorer(MLContext ml, ITransformer model, WearModelReport report)
    {
        private readonly ConcurrentBag<PooledEngine> _pool = [];

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

        public PooledEngine Rent() => _pool.TryTake(out var engine) ? engine : new PooledEngine(ml, model, Report.Features.Length);

        public void Return(PooledEngine engine) => _pool.Add(engine);

        public (double Prediction, double Low, double High) Predict(PooledEngine engine)
        {
            engine.Engine.Predict(engine.Input, ref engine.Output);
            var p = Math.Max(0, (double)engine.Output.Score);
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
