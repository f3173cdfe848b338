using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace Telemetry.Models.Rul;

/// <summary>
/// A remaining-useful-life model for a customer's own run-to-failure history, of one of the methods chosen by
/// <see cref="RulTrainer"/>: <b>regression</b>, FastTree (ML.NET) on <see cref="WindowFeatures"/>, or <b>curve</b>, a
/// <see cref="DegradationCurve"/> of one health indicator (looked up, or with <see cref="LifeFit"/> fitted). Either way the interval is the point estimate plus the
/// 10th and 90th percentiles of the errors cross-validation measured (conformal). The model file is a zip with
/// <c>telemetry-rul.json</c> (method, settings, interval, curves) and, for regression, ML.NET's model beside it, so
/// a single file is all that scoring needs.
/// </summary>
public sealed class RulModel
{
    private const string MetadataEntry = "telemetry-rul.json";
    /// <summary>3: a fit's shift and an own band's margin; 4: the blend of the lookup and the fit. A reader of an
    /// older format would ignore them and so score otherwise than the training judged (it refuses a newer format
    /// instead). Formats 1 to 3 still load.</summary>
    private const int FormatVersion = 4;
    private readonly MLContext? _ml;
    private readonly ITransformer? _regression;

    private RulModel(MLContext? ml, ITransformer? regression, WindowFeatures? features, DegradationCurve? curve, string[] columns, double? cap)
    {
        _ml = ml;
        _regression = regression;
        Features = features;
        Curve = curve;
        Columns = columns;
        Cap = cap;
    }

    /// <summary>The regression method's features; null for the curve method.</summary>
    public WindowFeatures? Features { get; }

    /// <summary>The curve method's population; null for regression.</summary>
    public DegradationCurve? Curve { get; }

    public string Method => Curve is null ? "regression" : Curve.Fitted is null ? "curve" : Curve.Blend ? "curve blend" : "curve fit";

    /// <summary>The numeric columns of the training file (a file to score must have the ones used).</summary>
    public string[] Columns { get; }

    public double? Cap { get; }

    /// <summary>The time column of the training file (null in files written before it was recorded). Scoring does not
    /// read it; a device twin serving the model checks it is the time its rows keep (km or charge cycles).</summary>
    public string? Time { get; private set; }

    public RulModel WithTime(string? time)
    {
        Time = time;
        return this;
    }

    /// <summary>Added to the point estimate for the 10th and 90th percentiles (from cross-validated errors).</summary>
    public (double Lower, double Upper) Interval { get; private set; }

    public RulModel WithInterval(double lower, double upper)
    {
        Interval = (lower, upper);
        return this;
    }

    /// <summary>True when the curve's own 10th–90th percentile band is served instead of <see cref="Interval"/>.</summary>
    public bool OwnBand { get; private set; }

    /// <summary>Added to each side of the curve's own band where it is served (its conformal calibration; negative narrows it).</summary>
    public double BandMargin { get; private set; }

    /// <summary>Serves the curve's own band, widened by <paramref name="margin"/> each side (a regression has none, so
    /// this does nothing for one).</summary>
    public RulModel WithOwnBand(double margin = 0)
    {
        OwnBand = Curve is not null;
        BandMargin = OwnBand ? margin : 0;
        return this;
    }

    public static RulModel FitRegression(RunTable train, WindowFeatures features, RulSettings settings)
    {
        var ml = new MLContext(settings.Seed);
        var identity = Enumerable.Range(0, train.Columns.Length).ToArray();
        var rows = Rows(train.Units, features, identity, settings.Cap, withLabels: true);
        var data = ml.Data.LoadFromEnumerable(rows, Schema(features.Count));
        var trainer = ml.Regression.Trainers.FastTree(new FastTreeRegressionTrainer.Options
        {
            NumberOfTrees = settings.Trees,
            NumberOfLeaves = settings.Leaves,
            MinimumExampleCountPerLeaf = Math.Max(2, Math.Min(10, rows.Count / (settings.Leaves * 2))),
            LearningRate = settings.LearningRate,
            NumberOfThreads = Math.Max(1, Environment.ProcessorCount),
        });
        return new RulModel(ml, trainer.Fit(data), features, null, train.Columns, settings.Cap);
    }

    public static RulModel FitCurve(RunTable train, DegradationCurve curve, double? cap) => new(null, null, null, curve, train.Columns, cap);

    /// <summary>The point estimate at every row of every unit, in order, and the curve's raw interval (the point itself for regression).</summary>
    public List<RulEstimate> PredictRows(RunTable table, IReadOnlyList<RunTable.Unit> units)
    {
        var map = MapColumns(table);
        var result = new List<RulEstimate>(units.Sum(u => u.Times.Length));
        if (Curve is { } curve)
        {
            foreach (var unit in units)
            {
                result.AddRange(curve.PredictAll(unit, map).Select(e => new RulEstimate(Capped(e.Rul), Capped(e.Low), Capped(e.High))));
            }

            return result;
        }

        var scores = Score(Rows(units, Features!, map, Cap, withLabels: false));
        result.AddRange(scores.Select(s => new RulEstimate(Capped(s), Capped(s), Capped(s))));
        return result;
    }

    /// <summary>The remaining life at the last row of every unit of <paramref name="table"/>, with its interval.</summary>
    public IReadOnlyList<(string Unit, RulEstimate Estimate)> PredictLast(RunTable table)
    {
        var map = MapColumns(table);
        var estimates = new List<(string, RulEstimate)>(table.Units.Count);
        if (Curve is { } curve)
        {
            foreach (var unit in table.Units)
            {
                var last = curve.PredictAll(unit, map)[^1];
                // The band as training judged it (RulTrainer.CalibrateBand): the margin applied to the capped band.
                var (rul, low, high) = (Capped(last.Rul), Capped(last.Low), Capped(last.High));
                estimates.Add((unit.Id, OwnBand
                    ? new RulEstimate(rul, Capped(Math.Min(rul, low - BandMargin)), Capped(Math.Max(rul, high + BandMargin)))
                    : WithIntervalOf(last.Rul)));
            }

            return estimates;
        }

        var rows = table.Units.Select(u =>
        {
            var row = new FeatureRow { Features = new float[Features!.Count] };
            Features.Compute(u, u.Times.Length - 1, map, row.Features);
            return row;
        }).ToList();
        var scores = Score(rows);
        return [.. table.Units.Select((u, i) => (u.Id, WithIntervalOf(scores[i])))];
    }

    private RulEstimate WithIntervalOf(double point)
    {
        // Offsets from errors that lean one way can both be above (or below) zero; the band still holds its estimate.
        var rul = Capped(point);
        return new RulEstimate(rul, Math.Min(rul, Capped(rul + Interval.Lower)), Math.Max(rul, Capped(rul + Interval.Upper)));
    }

    /// <summary>The largest time or life a curve may hold: stretched and summed when scoring, it stays finite.</summary>
    private const double MaxTime = DegradationCurve.MaxTime;

    private double Capped(double value) => Math.Max(0, Cap is { } c ? Math.Min(c, value) : value);

    public void Save(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        if (_regression is not null)
        {
            _ml!.Model.Save(_regression, _ml.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), Schema(Features!.Count)).Schema, path);
        }
        else if (File.Exists(path))
        {
            File.Delete(path);
        }

        using var zip = ZipFile.Open(path, _regression is null ? ZipArchiveMode.Create : ZipArchiveMode.Update);
        using var entry = zip.CreateEntry(MetadataEntry).Open();
        JsonSerializer.Serialize(entry, new Metadata(FormatVersion, Columns, Features?.Kept ?? [], Features?.Window ?? 0, Cap)
        {
            // All curves are "curve" in the file (a reader of format 2 knows no other); the fit is told by its Fitted, the
            // blend by Blend. (Written as format 4 even without them: one format per build is simpler to reason about.)
            Method = Curve is null ? "regression" : "curve",
            NormalizeFirst = Features?.NormalizeFirst ?? 0,
            Smooth = Features?.Smooth ?? 1,
            Lower = Interval.Lower,
            Upper = Interval.Upper,
            OwnBand = OwnBand,
            BandMargin = BandMargin,
            Time = Time,
            Curve = Curve is { } c ? new CurveMetadata(c.Column, c.Direction, c.Life, c.EndOffset, c.Smooth, [.. c.Curves]) { Fitted = c.Fitted, Blend = c.Blend } : null,
        });
    }

    public static RulModel Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new RunTableException($"{path}: no such model file.");
        }

        Metadata metadata;
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var entry = zip.GetEntry(MetadataEntry) ?? throw new RunTableException($"{path} is not a model written by train-rul (no {MetadataEntry}).");
            using var stream = entry.Open();
            metadata = JsonSerializer.Deserialize<Metadata>(stream) ?? throw new RunTableException($"{path}: unreadable {MetadataEntry}.");
        }
        catch (Exception e) when (e is InvalidDataException or JsonException)
        {
            throw new RunTableException($"{path} is not a model written by train-rul ({e.Message}).");
        }

        if (metadata.Version > FormatVersion)
        {
            throw new RunTableException($"{path} was written by a newer train-rul (format {metadata.Version}; this one reads up to {FormatVersion}).");
        }

        var columns = metadata.Columns ?? [];
        if (metadata.Method == "curve")
        {
            // Lives and ages are stretched and divided when scoring: a curve must be one a training could have written.
            if (metadata.Curve is not { } c || c.Column < 0 || c.Column >= columns.Length || !DegradationCurve.CanBeScored(c.Curves))
            {
                throw new RunTableException($"{path}: its {MetadataEntry} names the curve method but has no usable curve.");
            }

            if (c.Fitted is { } f && !f.CanBeScored())
            {
                throw new RunTableException($"{path}: its {MetadataEntry} has a curve fit that cannot be scored.");
            }

            if (c.Blend && c.Fitted is null)
            {
                throw new RunTableException($"{path}: its {MetadataEntry} blends a curve fit that it does not have.");
            }

            var curve = new DegradationCurve(c.Column, c.Direction, c.Life, c.EndOffset, c.Smooth, [.. c.Curves], c.Fitted, c.Blend);
            var curveModel = new RulModel(null, null, null, curve, columns, metadata.Cap).WithInterval(metadata.Lower, metadata.Upper);
            if (!(Math.Abs(metadata.BandMargin) <= MaxTime))
            {
                throw new RunTableException($"{path}: its {MetadataEntry} has a band margin that cannot be served.");
            }

            return (metadata.OwnBand ? curveModel.WithOwnBand(metadata.BandMargin) : curveModel).WithTime(metadata.Time);
        }

        if (metadata.Method != "regression" || metadata.Kept is null || metadata.Kept.Length == 0 || metadata.Kept.Any(k => k < 0 || k >= columns.Length) || metadata.Window <= 0)
        {
            throw new RunTableException($"{path}: its {MetadataEntry} does not describe a model train-rul can score (method '{metadata.Method}').");
        }

        var ml = new MLContext(0);
        ITransformer model;
        try
        {
            model = ml.Model.Load(path, out _);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or InvalidDataException)
        {
            throw new RunTableException($"{path}: no ML.NET model beside its {MetadataEntry} ({e.Message}).");
        }

        var features = new WindowFeatures(columns, metadata.Kept, metadata.Window, metadata.NormalizeFirst, metadata.Smooth);
        return new RulModel(ml, model, features, null, columns, metadata.Cap).WithInterval(metadata.Lower, metadata.Upper).WithTime(metadata.Time);
    }

    /// <summary>Maps the columns of a table to score onto the training columns, by name; a column the model uses must be there.</summary>
    private int[] MapColumns(RunTable table)
    {
        if (Features is not null)
        {
            return Features.MapColumns(table);
        }

        var map = new int[Columns.Length];
        for (var c = 0; c < Columns.Length; c++)
        {
            map[c] = Array.IndexOf(table.Columns, Columns[c]);
        }

        return map[Curve!.Column] >= 0 ? map : throw new RunTableException($"The model was trained with a column '{Columns[Curve.Column]}' that this file does not have.");
    }

    private float[] Score(List<FeatureRow> rows)
    {
        var scored = _regression!.Transform(_ml!.Data.LoadFromEnumerable(rows, Schema(Features!.Count)));
        return [.. scored.GetColumn<float>("Score")];
    }

    /// <summary>The feature rows of every row of the units; labels are the time to each unit's last row, capped.</summary>
    private static List<FeatureRow> Rows(IEnumerable<RunTable.Unit> units, WindowFeatures features, int[] map, double? cap, bool withLabels)
    {
        var rows = new List<FeatureRow>();
        foreach (var unit in units)
        {
            var end = unit.Times[^1];
            for (var i = 0; i < unit.Times.Length; i++)
            {
                var row = new FeatureRow { Features = new float[features.Count] };
                features.Compute(unit, i, map, row.Features);
                if (withLabels)
                {
                    var remaining = end - unit.Times[i];
                    row.Label = (float)(cap is { } c ? Math.Min(c, remaining) : remaining);
                }

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

    /// <summary>What the model file says besides ML.NET's model. Version 1 files (regression, no interval) still load.</summary>
    private sealed record Metadata(int Version, string[] Columns, int[] Kept, int Window, double? Cap)
    {
        public string Method { get; init; } = "regression";

        public int NormalizeFirst { get; init; }

        public int Smooth { get; init; } = 1;

        public double Lower { get; init; }

        public double Upper { get; init; }

        public CurveMetadata? Curve { get; init; }

        /// <summary>The curve's own band is served, not Lower and Upper (absent before it could be: false).</summary>
        public bool OwnBand { get; init; }

        /// <summary>Added to each side of the own band (absent before it was calibrated: 0, the band as it is).</summary>
        public double BandMargin { get; init; }

        /// <summary>The training file's time column (absent before it was recorded; not read when scoring, so the
        /// format is unchanged).</summary>
        public string? Time { get; init; }
    }

    private sealed record CurveMetadata(int Column, int Direction, LifeDefinition? Life, double EndOffset, int Smooth, DegradationCurve.Curve[] Curves)
    {
        /// <summary>Absent in models written before the fitted curve existed: those score by lookup.</summary>
        public LifeFit? Fitted { get; init; }

        /// <summary>The fit's and the lookup's answers averaged (absent before format 4: the fit alone).</summary>
        public bool Blend { get; init; }
    }

    /// <summary>One row for ML.NET: the feature vector and the label (time remaining, capped).</summary>
    public sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }
}

