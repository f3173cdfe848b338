using System.Security.Cryptography;

namespace Telemetry.Models.Rul;

/// <summary>
/// A model that <c>train-rul</c> learned from a brand's own run-to-failure rows, served to the device twins of one kind:
/// a twin keeps its own weekly rows (<see cref="WeeklyRun"/>, the code that writes the rows of <c>simulate-runs</c>, the
/// form such a file takes) of the columns the model reads, and its remaining life is the model's answer at its newest
/// row, less the km or charge cycles used since. The model is scored once per new row (a week) and the answer kept
/// with the run in between. Thread-safe: one instance serves every twin of its kind.
/// </summary>
public sealed class OwnRulModel
{
    /// <summary>Rows a curve keeps besides the first: two years of weeks. The fit's memories (0.5–0.9 a row) leave an
    /// older row less than 0.01% of a new one's weight; a fit that weighs every row alike (format 2) sees only these.</summary>
    public const int CurveTail = 104;

    /// <summary>First rows kept: a relative limit's reference (<see cref="LifeDefinition.ReferenceRows"/>) and a
    /// regression's per-unit baseline (up to 10 rows in train-rul's search) are taken from them.</summary>
    public const int MinHead = 10;

    private static long _models;

    /// <summary>This model's number, which a run's cached answer names (a replaced model is not served a stale one).</summary>
    private readonly long _id = Interlocked.Increment(ref _models);

    private readonly RulModel _model;

    private OwnRulModel(RulModel model, string kind, string[] columns, int head, int tail, string version)
    {
        _model = model;
        Kind = kind;
        Columns = columns;
        Head = head;
        Tail = tail;
        Version = version;
    }

    /// <summary><c>shoe</c> (time: km) or <c>band</c> (time: charge cycles).</summary>
    public string Kind { get; }

    /// <summary>The columns the model reads, which a twin's rows keep.</summary>
    public string[] Columns { get; }

    public int Head { get; }

    public int Tail { get; }

    public string Method => _model.Method;

    /// <summary>What alerts and twins name as their model: <c>own-band:FILE:SHA256-PREFIX:METHOD</c>.</summary>
    public string Version { get; }

    /// <summary>The time a kind's rows keep, which the model must have been trained on.</summary>
    public static string TimeOf(string kind) => kind == "shoe" ? "km" : "cycles";

    /// <summary>
    /// Loads a train-rul model file for twins of <paramref name="kind"/>. Refused, naming the file: a file train-rul
    /// would not load, a kind other than shoe or band, a model trained on another time than the kind's rows keep (or
    /// written before train-rul recorded its time), and one that would have a twin keep more than
    /// <see cref="WeeklyRun.MaxRows"/> rows.
    /// </summary>
    public static OwnRulModel Load(string path, string kind)
    {
        if (kind is not ("shoe" or "band"))
        {
            throw new RunTableException($"{path}: a model serves shoes or bands, not '{kind}'.");
        }

        var model = RulModel.Load(path);
        if (model.Time is not { } time)
        {
            throw new RunTableException($"{path} was written before train-rul recorded its time column, so the rows it was trained on cannot be checked; train it again.");
        }

        if (time != TimeOf(kind))
        {
            throw new RunTableException($"{path} was trained with time '{time}'; a {kind}'s rows are kept in {TimeOf(kind)} (train it on rows like simulate-runs --kind {kind} writes).");
        }

        var (columns, head, tail) = model.Features is { } features
            ? (features.Kept.Select(k => features.Columns[k]).Distinct(StringComparer.Ordinal).ToArray(), Math.Max(MinHead, (long)features.NormalizeFirst), (long)features.Window + features.Smooth)
            : (new[] { model.Columns[model.Curve!.Column] }, MinHead, CurveTail);
        if (head > WeeklyRun.MaxRows || tail is < 1 or > WeeklyRun.MaxRows)
        {
            throw new RunTableException($"{path}: its window, smoothing or baseline would have each twin keep {head} + {tail} rows, more than {WeeklyRun.MaxRows}.");
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)))[..8];
        return new OwnRulModel(model, kind, columns, (int)head, (int)tail, $"own-{kind}:{Path.GetFileName(path)}:{hash}:{model.Method.Replace(' ', '-')}");
    }

    /// <summary>A new run for a twin of this kind, in week <paramref name="week"/> of its life, with the km it had; one
    /// started part-way (<paramref name="fromNew"/> false) keeps no rows.</summary>
    public WeeklyRun NewRun(int week, double startKm, bool fromNew = true, double origin = 0) =>
        new(Kind == "shoe", Columns, Head, Tail, startKm, origin, fromNew) { Week = week };

    /// <summary>Whether <paramref name="run"/> keeps the rows this model reads (a twin's run kept for another model does not).</summary>
    public bool Fits(WeeklyRun run) => Reads(run) && run.Head == Head && run.Tail == Tail;

    /// <summary>Whether <paramref name="run"/> keeps this model's columns for its kind, however many rows.</summary>
    public bool Reads(WeeklyRun run) => run.Shoe == (Kind == "shoe") && run.Columns.AsSpan().SequenceEqual(Columns);

    /// <summary>
    /// The remaining life at <paramref name="ageNow"/> (the twin's km or charge cycles): the model's answer at the run's
    /// newest row, with its interval, less what was used since (never below 0). Null before the run has a row.
    /// </summary>
    public RulEstimate? Estimate(WeeklyRun run, double ageNow)
    {
        if (run.Count == 0)
        {
            return null;
        }

        if (run.Cached is not { } cached || cached.Model != _id || cached.Version != run.Version)
        {
            cached = new WeeklyRun.ServedCache(_id, run.Version, _model.PredictLast(run.Table("twin")!)[0].Estimate);
            run.Cached = cached;
        }

        var used = double.IsFinite(ageNow) ? Math.Max(0, ageNow - run.Origin - run.Times[^1]) : 0;
        var e = cached.Estimate;
        return new RulEstimate(Math.Max(0, e.Rul - used), Math.Max(0, e.Low - used), Math.Max(0, e.High - used));
    }
}
