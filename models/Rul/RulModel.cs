using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace Telemetry.Models.Rul;

/// <summary>Settings of a generic remaining-useful-life model.</summary>
public sealed record RulSettings
{
    /// <summary>Cap of the label (piecewise-linear target); null keeps the raw time remaining.</summary>
    public double? Cap { get; init; }

    public int Window { get; init; } = 15;

    /// <summary>Share of units held out for evaluation.</summary>
    public double HoldOut { get; init; } = 0.2;

    public int Trees { get; init; } = 200;

    public int Leaves { get; init; } = 32;

    public int Seed { get; init; } = 7;
}

/// <summary>Held-out accuracy, in the units of the time column.</summary>
public sealed record RulMetrics(int TrainUnits, int TestUnits, int TestRows, double Rmse, double Mae, double BaselineRmse, double BaselineMae, int Features, int DroppedColumns);

/// <summary>
/// A remaining-useful-life regressor for a customer's own run-to-failure history: FastTree (ML.NET) on
/// <see cref="WindowFeatures"/>, trained on some units and measured on units it has never seen. The model
/// file is ML.NET's zip with one more entry, <c>telemetry-rul.json</c>, holding the feature settings, so a
/// single file is all that scoring needs.
/// </summary>
public sealed class RulModel
{
    private const string MetadataEntry = "telemetry-rul.json";
    private readonly MLContext _ml;
    private readonly ITransformer _model;

    private RulModel(MLContext ml, ITransformer model, WindowFeatures features, double? cap)
    {
        _ml = ml;
        _model = model;
        Features = features;
        Cap = cap;
    }

    public WindowFeatures Features { get; }

    public double? Cap { get; }

    /// <summary>Trains on a random share of the units and measures on the rest (split by unit, never by row).</summary>
    public static (RulModel Model, RulMetrics Metrics) Train(RunTable table, RulSettings settings, IProgress<string>? progress = null)
    {
        if (table.Units.Count < 2)
        {
            throw new RunTableException("At least two units are needed: one to train on and one to test on.");
        }

        var features = WindowFeatures.Fit(table, settings.Window);
        var random = new Random(settings.Seed);
        var shuffled = table.Units.OrderBy(_ => random.Next()).ToList();
        var testCount = Math.Clamp((int)Math.Round(shuffled.Count * settings.HoldOut), 1, shuffled.Count - 1);
        var test = shuffled.Take(testCount).ToList();
        var train = shuffled.Skip(testCount).ToList();
        var identity = Enumerable.Range(0, table.Columns.Length).ToArray();

        progress?.Report($"features: {features.Count} from {features.Kept.Length} of {table.Columns.Length} columns (window {settings.Window})");
        var ml = new MLContext(settings.Seed);
        var trainRows = Rows(train, features, identity, settings.Cap);
        var data = ml.Data.LoadFromEnumerable(trainRows, Schema(features.Count));
        progress?.Report($"training FastTree: {settings.Trees} trees on {trainRows.Count} rows of {train.Count} units");
        var trainer = ml.Regression.Trainers.FastTree(new FastTreeRegressionTrainer.Options
        {
            NumberOfTrees = settings.Trees,
            NumberOfLeaves = settings.Leaves,
            MinimumExampleCountPerLeaf = 10,
            LearningRate = 0.1,
            NumberOfThreads = Math.Max(1, Environment.ProcessorCount),
        });
        var model = new RulModel(ml, trainer.Fit(data), features, settings.Cap);

        progress?.Report($"evaluating on {test.Count} held-out units");
        var testRows = Rows(test, features, identity, settings.Cap);
        var predicted = model.Score(testRows);
        var baseline = trainRows.Average(r => r.Label);
        double se = 0, ae = 0, bse = 0, bae = 0;
        for (var i = 0; i < testRows.Count; i++)
        {
            var error = predicted[i] - testRows[i].Label;
            se += error * error;
            ae += Math.Abs(error);
            var baseError = baseline - testRows[i].Label;
            bse += baseError * baseError;
            bae += Math.Abs(baseError);
        }

        var n = testRows.Count;
        return (model, new RulMetrics(train.Count, test.Count, n, Math.Sqrt(se / n), ae / n, Math.Sqrt(bse / n), bae / n,
            features.Count, table.Columns.Length - features.Kept.Length));
    }

    /// <summary>The remaining life at the last row of every unit of <paramref name="table"/>.</summary>
    public IReadOnlyList<(string Unit, double Rul)> PredictLast(RunTable table)
    {
        var map = Features.MapColumns(table);
        var rows = table.Units.Select(u =>
        {
            var row = new FeatureRow { Features = new float[Features.Count] };
            Features.Compute(u, u.Times.Length - 1, map, row.Features);
            return row;
        }).ToList();
        var scores = Score(rows);
        return [.. table.Units.Select((u, i) => (u.Id, Math.Max(0, (double)scores[i])))];
    }

    public void Save(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        _ml.Model.Save(_model, Schema(Features.Count).Let(s => _ml.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), s).Schema), path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        using var entry = zip.CreateEntry(MetadataEntry).Open();
        JsonSerializer.Serialize(entry, new Metadata(1, Features.Columns, Features.Kept, Features.Window, Cap));
    }

    public static RulModel Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new RunTableException($"{path}: no such model file.");
        }

        Metadata metadata;
        using (var zip = ZipFile.OpenRead(path))
        {
            var entry = zip.GetEntry(MetadataEntry) ?? throw new RunTableException($"{path} is not a model written by train-rul (no {MetadataEntry}).");
            using var stream = entry.Open();
            metadata = JsonSerializer.Deserialize<Metadata>(stream) ?? throw new RunTableException($"{path}: unreadable {MetadataEntry}.");
        }

        var ml = new MLContext(0);
        var model = ml.Model.Load(path, out _);
        return new RulModel(ml, model, new WindowFeatures(metadata.Columns, metadata.Kept, metadata.Window), metadata.Cap);
    }

    private float[] Score(List<FeatureRow> rows)
    {
        var scored = _model.Transform(_ml.Data.LoadFromEnumerable(rows, Schema(Features.Count)));
        return [.. scored.GetColumn<float>("Score")];
    }

    private static List<FeatureRow> Rows(List<RunTable.Unit> units, WindowFeatures features, int[] map, double? cap)
    {
        var rows = new List<FeatureRow>(units.Sum(u => u.Times.Length));
        foreach (var unit in units)
        {
            var end = unit.Times[^1];
            for (var i = 0; i < unit.Times.Length; i++)
            {
                var row = new FeatureRow { Features = new float[features.Count] };
                features.Compute(unit, i, map, row.Features);
                var remaining = end - unit.Times[i];
                row.Label = (float)(cap is { } c ? Math.Min(c, remaining) : remaining);
                rows.Add(row);
            }
        }

        return rows;
    }

    private static SchemaDefinition Schema(int featureCount)
    {
        var schema = SchemaDefinition.Create(typeof(FeatureRow));
        schema[nameof(FeatureRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
        return schema;
    }

    private sealed record Metadata(int Version, string[] Columns, int[] Kept, int Window, double? Cap);

    /// <summary>One row for ML.NET: the feature vector and the label (time remaining, capped).</summary>
    public sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }
}

internal static class LetExtensions
{
    public static TResult Let<T, TResult>(this T value, Func<T, TResult> map) => map(value);
}
