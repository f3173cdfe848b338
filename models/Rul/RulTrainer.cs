using System.Diagnostics;
using System.Globalization;

namespace Telemetry.Models.Rul;

/// <summary>
/// Trains a remaining-life model the way it is judged: by cross-validation grouped by unit. Three methods are tried,
/// regression on window features and a degradation curve of the best health indicator, looked up at the unit's
/// progress or fitted to its whole trajectory, each with settings drawn by a seeded search for as long as the
/// budget allows; the best by cross-validated RMSE is refitted on every unit. Below <see cref="FewUnits"/> units the
/// method is chosen first, by nested cross-validation (a hundred candidates on a handful of units flatter the luckiest);
/// below <see cref="MinRegressionUnits"/> the lookup and the fit are averaged (the blend), not chosen between.
/// Next to it two naive answers are scored on the same folds: the training units' mean life minus the unit's age,
/// and a straight line through the best health indicator's recent rows extrapolated to its end-of-life level.
/// </summary>
public static class RulTrainer
{
    private static readonly int[] Windows = [5, 10, 15, 30];
    private static readonly int[] TreeCounts = [100, 200, 400];
    private static readonly int[] LeafCounts = [8, 16, 32];
    private static readonly double[] LearningRates = [0.05, 0.1, 0.2];
    private static readonly double[] Trendabilities = [0, 0.1, 0.3, 0.5];
    private static readonly int[] Baselines = [0, 5, 10];
    private static readonly int[] Smooths = [1, 3, 5, 9];
    /// <summary>The curve fit's settings searched (also by <c>train</c> for the wear models).</summary>
    internal static readonly double[] Evidences = [0.1, 0.3, 1, 3];

    internal static readonly double[] Memories = [0.9, 0.7, 0.5];

    public static (RulModel Model, RulReport Report) Train(RunTable table, RulTrainingOptions options, IProgress<string>? progress = null)
    {
        var censored = new List<string>();
        var pastAtStart = new List<string>();
        if (options.Life is { } life)
        {
            var cut = life.Apply(table);
            censored.AddRange(cut.Censored.Select(u => u.Id));
            pastAtStart.AddRange(cut.PastAtStart.Select(u => u.Id));
            progress?.Report($"end of life when {life}: {cut.Failed.Units.Count} units reach it; left out: {censored.Count} that never do{Names(censored)}, {pastAtStart.Count} past it at their first row{Names(pastAtStart)}");
            if (cut.Failed.Units.Count < 2)
            {
                throw new RunTableException($"--end-when {life}: only {cut.Failed.Units.Count} of {table.Units.Count} units reach that end of life within their history; {censored.Count} never do and {pastAtStart.Count} are past it at their first row. At least two are needed to train and to test.");
            }

            table = cut.Failed;
        }

        var (model, report) = TrainCut(table, censored, options, progress);
        return (model, report with { PastAtStart = pastAtStart });
    }

    /// <summary>Training on units already cut at their end of life. With <paramref name="showScores"/> false (an outer
    /// fold of <see cref="Nested"/>, where only the model is wanted), below <see cref="MinRegressionUnits"/> the methods'
    /// scores, which are shown and not used, are not measured.</summary>
    private static (RulModel Model, RulReport Report) TrainCut(RunTable table, List<string> censored, RulTrainingOptions options, IProgress<string>? progress, bool showScores = true)
    {
        var clock = Stopwatch.StartNew();
        // A name the search does not know would otherwise be searched as the curve fit, its settings' default arm.
        var unknown = options.Methods?.FirstOrDefault(m => !Methods.Contains(m) && m != Blend);
        if (options.Methods is { Count: 0 } || unknown is not null)
        {
            throw new ArgumentException($"Methods: {(unknown is null ? "none named" : $"no method '{unknown}'")}; the methods are {string.Join(", ", Methods)} and {Blend}.", nameof(options));
        }

        if (options.MaxCandidates < 1)
        {
            throw new ArgumentException($"MaxCandidates must be at least 1 (was {options.MaxCandidates}).", nameof(options));
        }

        if (table.Units.Count < 2)
        {
            throw new RunTableException($"At least two units that reach their end of life are needed to train and to test; there {(table.Units.Count == 1 ? "is one" : "are none")}.");
        }

        var folds = Folds(table, Math.Min(options.Folds, table.Units.Count), options.Start.Seed);
        var rows = table.Units.Sum(u => u.Times.Length);
        progress?.Report($"cross-validation: {folds.Count} folds of whole units over {table.Units.Count} units, {rows} rows");

        var cap = options.Start.Cap;
        var truth = Truth(table, folds, cap);
        var screens = folds.Select(f => ColumnScreen.Score(f.Train)).ToList();
        var indicator = options.Life is { } l ? table.ColumnIndex(l.Column) : ColumnScreen.Best(ColumnScreen.Score(table)).Column;
        var meanLife = Score("mean life minus age", truth, MeanLifeBaseline(table, folds, cap));
        var extrapolation = Score($"{table.Columns[indicator]} extrapolated", truth, ExtrapolationBaseline(table, folds, screens, options, cap));
        progress?.Report(Invariant($"baselines: mean life minus age RMSE {meanLife.Rmse:F2}; {table.Columns[indicator]} extrapolated RMSE {extrapolation.Rmse:F2}"));

        // A regression on window features learns remaining life from the training units' rows; from fewer than
        // MinRegressionUnits it can only learn their lives, so it is not tried.
        IReadOnlyList<string> methods = options.Methods ?? Methods;
        var methodScores = new List<RulScore>();
        var selection = "";
        if (options.Methods is null && table.Units.Count < MinRegressionUnits)
        {
            // On so few units the lower of the two curves' scores says more of luck than of method (choosing between
            // them lost to their average on seven of the nine sets of cells measured, docs/models.md), so the blend is
            // served; each one's score on units its search did not see is still measured and shown, where folds allow it.
            var judged = folds.All(f => f.Train.Units.Count >= 2);
            if (judged && showScores)
            {
                methodScores.AddRange(MethodScores(table, folds, truth, options, FewUnitMethods, progress).Scores);
            }

            methods = [Blend];
            var why = judged ? "judged by nested cross-validation, the lower is the luckier as often as the better" : $"in {folds.Count} folds one trains on a single unit, so none can be judged";
            selection = $"method: {Blend}, the lookup and the fit averaged, not chosen between ({table.Units.Count} units are too few to choose between them: {why})";
        }
        else if (options.Methods is null && table.Units.Count < FewUnits)
        {
            // Few units cannot tell a lucky candidate among a hundred tries from a good one: the method is chosen by
            // how each method's own search does on units it did not see, and only that method is searched further.
            var (scores, foldRmses) = MethodScores(table, folds, truth, options, methods, progress);
            methodScores.AddRange(scores);

            // The one-standard-error rule, between the regression (seven settings) and the curves (one to three):
            // when the regression is lowest, the better curve is chosen if it is within one standard error (across
            // folds) of it. Between the curves the lower decides.
            var lowest = Enumerable.Range(0, methods.Count).MinBy(m => methodScores[m].Rmse);
            var error = StandardError(foldRmses[lowest]);
            var curve = Enumerable.Range(0, methods.Count).Where(m => methods[m] != "regression").MinBy(m => methodScores[m].Rmse);
            var chosen = methods[lowest] == "regression" && methodScores[curve].Rmse <= methodScores[lowest].Rmse + error ? curve : lowest;
            var why = Invariant($"method chosen by nested cross-validation ({table.Units.Count} units are too few to trust the lowest of many candidates' scores): {methods[chosen]}");
            selection = chosen == lowest ? $"{why}, the lowest" : Invariant($"{why}, within one standard error ({error:F2}) of the lowest, {methods[lowest]} at {methodScores[lowest].Rmse:F2}");
            methods = [methods[chosen]];
        }

        var candidates = new List<Candidate>();
        var random = new Random(options.Start.Seed);
        var draws = 0;
        var tried = new HashSet<string>(StringComparer.Ordinal);
        var repeats = 0;
        while (candidates.Count < options.MaxCandidates)
        {
            // The first of each method always runs; after that, alternate while the budget lasts (the regression
            // twice as often as each curve: its settings are many).
            var untried = methods.FirstOrDefault(m => !candidates.Any(c => c.Method == m));
            if (untried is null && clock.Elapsed >= options.Budget)
            {
                break;
            }

            var method = untried ?? (methods.SequenceEqual(Methods) ? (draws++ % 4) switch { 2 => "curve", 3 => "curve fit", _ => "regression" } : methods[draws++ % methods.Count]);
            var firstSmooth = Math.Max(options.Life?.Smooth ?? 5, 1);
            object settings = method switch
            {
                "regression" => untried is null ? Draw(random, options.Start) : options.Start,
                "curve" => untried is null ? Smooths[random.Next(Smooths.Length)] : firstSmooth,
                _ => untried is null ? (Smooths[random.Next(Smooths.Length)], Evidences[random.Next(Evidences.Length)], Memories[random.Next(Memories.Length)]) : (firstSmooth, 0.3, 0.7),
            };

            // A setting drawn again is not scored again; the search ends early once its draws keep repeating (the
            // curves' few settings are soon all tried).
            if (!tried.Add($"{method}: {settings}"))
            {
                if (++repeats >= MaxRepeats)
                {
                    break;
                }

                continue;
            }

            repeats = 0;
            var candidate = settings switch
            {
                RulSettings regression => EvaluateRegression(table, folds, screens, truth, regression),
                int rolling => EvaluateCurve(table, folds, screens, truth, options, rolling, null, 1, false),
                (int rolling, double evidence, double memory) => EvaluateCurve(table, folds, screens, truth, options, rolling, evidence, memory, method == Blend),
                _ => throw new InvalidOperationException($"no method for {settings}"),
            };
            candidates.Add(candidate);
            progress?.Report(Invariant($"candidate {candidates.Count} ({candidate.Method}: {candidate.Settings}): RMSE {candidate.Score.Rmse:F2}, error {candidate.Score.MeanLifeError:P1} of life"));
        }

        var best = candidates.MinBy(c => c.Score.Rmse)!;
        selection = selection.Length > 0 ? selection : Invariant($"chosen by the lowest cross-validated RMSE among {candidates.Count} candidates");
        progress?.Report(selection);
        var (lower, upper, coverage, tail) = Calibrate(truth, best.Predictions, folds.Count);
        progress?.Report($"chose {best.Method} ({best.Settings}); refitting on all {table.Units.Count} units");
        var model = (best.Curve is { } smooth
            ? RulModel.FitCurve(table, DegradationCurve.Fit(table, indicator, Direction(ColumnScreen.Score(table), indicator), options.Life, smooth, best.Evidence, best.Memory, best.Blend), cap)
            : RulModel.FitRegression(table, Features(table, ColumnScreen.Score(table), best.Regression!), best.Regression!))
            .WithInterval(lower, upper);

        // A curve's own band, calibrated by a margin like the offsets and judged like them on held-out units: the one
        // whose coverage is nearer the 80% it names is served (with few units the errors of some say little of another's;
        // the band, wide where the unit is uncertain and narrow where it is not, may).
        var raw = best.Curve is null ? (double?)null : RawCoverage(truth, best.Predictions);
        (double Margin, double? Coverage) calibrated = best.Curve is null ? (0, null) : CalibrateBand(truth, best.Predictions, folds.Count);
        var (margin, bandCoverage) = calibrated;
        if (bandCoverage is { } band && Math.Abs(band - 0.8) < Math.Abs(coverage - 0.8))
        {
            model.WithOwnBand(margin);
        }

        var features = model.Features;
        var finalScreen = ColumnScreen.Score(table);
        return (model, new RulReport
        {
            Units = table.Units.Count,
            Censored = censored,
            Rows = rows,
            Folds = folds.Count,
            Model = best.Score with { Name = best.Method },
            MeanLifeBaseline = meanLife,
            ExtrapolationBaseline = extrapolation,
            Indicator = table.Columns[indicator],
            Method = best.Method,
            Settings = best.Settings,
            Selection = selection,
            MethodScores = methodScores,
            Candidates = [.. candidates.OrderBy(c => c.Score.Rmse).Select(c => (c.Method, c.Settings, c.Score))],
            Choices = Choices(candidates),
            RawCoverage = raw,
            BandCoverage = bandCoverage,
            BandMargin = margin,
            OwnBand = model.OwnBand,
            Coverage = coverage,
            Interval = (lower, upper),
            IntervalTail = tail,
            Features = features?.Count ?? 0,
            DroppedConstant = features is null ? 0 : finalScreen.Count(s => s.NearConstant),
            DroppedNoise = features is null ? 0 : finalScreen.Count(s => !s.NearConstant && !features.Kept.Contains(s.Column)),
            Elapsed = clock.Elapsed,
        });
    }

    /// <summary>One fold: the units trained on and the units held out.</summary>
    private sealed record Fold(RunTable Train, RunTable Test);

    /// <summary>
    /// The whole procedure judged from outside (nested cross-validation): each outer fold's units are predicted by a
    /// model whose method and settings were chosen, by the same search with a share of the budget, on the other units
    /// only. The chosen candidate's own cross-validated score is optimistic when many candidates were tried on few
    /// units; this one is not. Returns the procedure's score (its name says which method each fold chose).
    /// </summary>
    public static RulScore Nested(RunTable table, RulTrainingOptions options, IProgress<string>? progress = null)
    {
        if (options.Life is { } life)
        {
            table = life.Apply(table).Failed;
        }

        var folds = Folds(table, Math.Min(options.Folds, table.Units.Count), options.Start.Seed);
        if (folds.Any(f => f.Train.Units.Count < 2))
        {
            throw new RunTableException(table.Units.Count < 3
                ? "Nested cross-validation needs at least three units that reach their end of life."
                : $"Nested cross-validation needs every outer fold to train on at least two units: {table.Units.Count} units in {folds.Count} folds leave one with a single unit; use more folds (--folds {table.Units.Count}).");
        }

        var truth = Truth(table, folds, options.Start.Cap);
        var predictions = new List<RulEstimate>(truth.Count);
        var chosen = new List<string>();
        var inner = options with { Budget = options.Budget / folds.Count };
        for (var k = 0; k < folds.Count; k++)
        {
            var (model, report) = TrainCut(folds[k].Train, [], inner, null, showScores: false);
            predictions.AddRange(model.PredictRows(table, folds[k].Test.Units));
            chosen.Add(report.Method);
            progress?.Report(Invariant($"nested fold {k + 1}/{folds.Count}: chose {report.Method} ({report.Settings})"));
        }

        return Score($"nested: {string.Join(", ", chosen.GroupBy(c => c).Select(g => $"{g.Key} ×{g.Count()}"))}", truth, predictions);
    }

    /// <summary>Each method's own search (a share of the budget) judged on the folds' held-out units, with its RMSE per fold.</summary>
    private static (List<RulScore> Scores, List<double[]> FoldRmses) MethodScores(RunTable table, List<Fold> folds, List<Row> truth, RulTrainingOptions options, IReadOnlyList<string> methods, IProgress<string>? progress)
    {
        var share = options with { Budget = options.Budget / (2 * methods.Count * folds.Count) };
        var (scores, foldRmses) = (new List<RulScore>(), new List<double[]>());
        foreach (var method in methods)
        {
            var predictions = new List<RulEstimate>(truth.Count);
            foreach (var fold in folds)
            {
                predictions.AddRange(TrainCut(fold.Train, [], share with { Methods = [method] }, null).Model.PredictRows(table, fold.Test.Units));
            }

            scores.Add(Score(method, truth, predictions));
            foldRmses.Add(FoldRmses(truth, predictions, folds.Count));
            progress?.Report(Invariant($"method {method}, its search judged on units it did not see: RMSE {scores[^1].Rmse:F2}, error {scores[^1].MeanLifeError:P1} of life"));
        }

        return (scores, foldRmses);
    }

    /// <summary>The held-out truth, row by row in fold order: label (capped), the unit, its life, its fold and its age at the row.</summary>
    private sealed record Row(double Label, string Unit, double Life, int Fold, double Age);

    private sealed record Candidate(string Method, string Settings, RulScore Score, List<RulEstimate> Predictions)
    {
        public RulSettings? Regression { get; init; }

        public int? Curve { get; init; }

        /// <summary>For the fitted curve, the weight of each row against the prior; null for the lookup.</summary>
        public double? Evidence { get; init; }

        public double Memory { get; init; } = 1;

        /// <summary>The fit's and the lookup's answers averaged.</summary>
        public bool Blend { get; init; }
    }

    /// <summary>The methods tried: a window-feature regression, the degradation curve looked up at the unit's progress, and the curve fitted to the unit's whole trajectory.</summary>
    private static readonly string[] Methods = ["regression", "curve", "curve fit"];

    /// <summary>The curve fit and the lookup averaged: the method below <see cref="MinRegressionUnits"/> units.</summary>
    private const string Blend = "curve blend";

    /// <summary>The methods whose scores are shown below <see cref="MinRegressionUnits"/> units.</summary>
    private static readonly string[] FewUnitMethods = ["curve", "curve fit", Blend];

    /// <summary>Draws in a row of settings already tried that end the search.</summary>
    private const int MaxRepeats = 200;

    /// <summary>The regression is tried from this many units that reach their end of life.</summary>
    internal const int MinRegressionUnits = 5;

    /// <summary>Below this many units that reach their end of life, the method is chosen by nested cross-validation.</summary>
    internal const int FewUnits = 20;

    private static double[] FoldRmses(List<Row> truth, List<RulEstimate> predictions, int folds)
    {
        var (squares, rows) = (new double[folds], new int[folds]);
        for (var i = 0; i < truth.Count; i++)
        {
            var error = predictions[i].Rul - truth[i].Label;
            squares[truth[i].Fold] += error * error;
            rows[truth[i].Fold]++;
        }

        return [.. squares.Select((s, k) => Math.Sqrt(s / Math.Max(1, rows[k])))];
    }

    private static double StandardError(double[] values)
    {
        var mean = values.Average();
        return values.Length > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1) / values.Length) : 0;
    }

    private static List<Fold> Folds(RunTable table, int count, int seed)
    {
        var random = new Random(seed);
        var shuffled = table.Units.OrderBy(_ => random.Next()).ToList();
        return [.. Enumerable.Range(0, count).Select(k =>
        {
            var test = shuffled.Where((_, i) => i % count == k).ToList();
            return new Fold(table.With(shuffled.Where((_, i) => i % count != k)), table.With(test));
        })];
    }

    private static List<Row> Truth(RunTable table, List<Fold> folds, double? cap) =>
        [.. folds.SelectMany((f, k) => f.Test.Units.SelectMany(u => u.Times.Select(t =>
        {
            var remaining = u.Times[^1] - t;
            return new Row(cap is { } c ? Math.Min(c, remaining) : remaining, u.Id, u.Times[^1] - u.Times[0], k, t - u.Times[0]);
        })))];

    private static Candidate EvaluateRegression(RunTable table, List<Fold> folds, List<IReadOnlyList<ColumnScore>> screens, List<Row> truth, RulSettings settings)
    {
        var predictions = new List<RulEstimate>(truth.Count);
        for (var k = 0; k < folds.Count; k++)
        {
            var model = RulModel.FitRegression(folds[k].Train, Features(folds[k].Train, screens[k], settings), settings);
            predictions.AddRange(model.PredictRows(table, folds[k].Test.Units));
        }

        return new Candidate("regression", settings.ToString(), Score("regression", truth, predictions), predictions) { Regression = settings };
    }

    private static Candidate EvaluateCurve(RunTable table, List<Fold> folds, List<IReadOnlyList<ColumnScore>> screens, List<Row> truth, RulTrainingOptions options, int smooth, double? evidence, double memory, bool blend)
    {
        var predictions = new List<RulEstimate>(truth.Count);
        for (var k = 0; k < folds.Count; k++)
        {
            var indicator = Indicator(table, screens[k], options);
            var curve = DegradationCurve.Fit(folds[k].Train, indicator, Direction(screens[k], indicator), options.Life, smooth, evidence, memory, blend);
            predictions.AddRange(RulModel.FitCurve(folds[k].Train, curve, options.Start.Cap).PredictRows(table, folds[k].Test.Units));
        }

        var method = evidence is null ? "curve" : blend ? Blend : "curve fit";
        var settings = $"{table.Columns[Indicator(table, ColumnScreen.Score(table), options)]}, rolling median of {smooth}{(evidence is { } e ? Invariant($", evidence {e} per row, memory {memory}") : "")}";
        return new Candidate(method, settings, Score(method, truth, predictions), predictions) { Curve = smooth, Evidence = evidence, Memory = memory, Blend = blend };
    }

    private static List<(string, string, double, int)> Choices(List<Candidate> candidates)
    {
        var regressions = candidates.Where(c => c.Regression is not null).ToList();
        (string Name, Func<RulSettings, object> Value)[] settings =
        [
            ("window", s => s.Window), ("trees", s => s.Trees), ("leaves", s => s.Leaves), ("learning rate", s => s.LearningRate),
            ("trendability ≥", s => s.MinTrendability), ("baseline rows", s => s.NormalizeFirst), ("smoothing", s => s.Smooth),
        ];
        var choices = settings.SelectMany(setting => regressions
            .GroupBy(c => Convert.ToString(setting.Value(c.Regression!), CultureInfo.InvariantCulture)!)
            .OrderBy(g => double.Parse(g.Key, CultureInfo.InvariantCulture))
            .Select(g => (setting.Name, g.Key, g.Min(c => c.Score.Rmse), g.Count()))).ToList();
        var curves = candidates.Where(c => c.Curve is not null && c.Evidence is null).GroupBy(c => c.Curve!.Value).OrderBy(g => g.Key);
        choices.AddRange(curves.Select(g => ("curve smoothing", g.Key.ToString(CultureInfo.InvariantCulture), g.Min(c => c.Score.Rmse), g.Count())));
        // The fit's settings, and the blend's (the same ones) under their own name.
        foreach (var (name, blend) in new[] { ("fit", false), ("blend", true) })
        {
            var fitted = candidates.Where(c => c.Evidence is not null && c.Blend == blend).ToList();
            choices.AddRange(fitted.GroupBy(c => c.Curve!.Value).OrderBy(g => g.Key)
                .Select(g => ($"{name} smoothing", g.Key.ToString(CultureInfo.InvariantCulture), g.Min(c => c.Score.Rmse), g.Count())));
            choices.AddRange(fitted.GroupBy(c => c.Evidence!.Value).OrderBy(g => g.Key)
                .Select(g => ($"{name} evidence per row", g.Key.ToString(CultureInfo.InvariantCulture), g.Min(c => c.Score.Rmse), g.Count())));
            choices.AddRange(fitted.GroupBy(c => c.Memory).OrderBy(g => g.Key)
                .Select(g => ($"{name} memory per row", g.Key.ToString(CultureInfo.InvariantCulture), g.Min(c => c.Score.Rmse), g.Count())));
        }

        return choices;
    }

    private static WindowFeatures Features(RunTable train, IReadOnlyList<ColumnScore> screen, RulSettings settings) =>
        WindowFeatures.Fit(train, screen, settings.Window, settings.MinTrendability, settings.NormalizeFirst, settings.Smooth);

    private static int Indicator(RunTable table, IReadOnlyList<ColumnScore> screen, RulTrainingOptions options) =>
        options.Life is { } life ? table.ColumnIndex(life.Column) : ColumnScreen.Best(screen).Column;

    private static int Direction(IReadOnlyList<ColumnScore> screen, int column) => screen[column].Direction;

    private static RulSettings Draw(Random random, RulSettings start) => start with
    {
        Window = Windows[random.Next(Windows.Length)],
        Trees = TreeCounts[random.Next(TreeCounts.Length)],
        Leaves = LeafCounts[random.Next(LeafCounts.Length)],
        LearningRate = LearningRates[random.Next(LearningRates.Length)],
        MinTrendability = Trendabilities[random.Next(Trendabilities.Length)],
        NormalizeFirst = Baselines[random.Next(Baselines.Length)],
        Smooth = Smooths[random.Next(Smooths.Length)],
    };

    /// <summary>The training units' mean life minus the unit's age.</summary>
    private static List<RulEstimate> MeanLifeBaseline(RunTable table, List<Fold> folds, double? cap)
    {
        var predictions = new List<RulEstimate>();
        foreach (var fold in folds)
        {
            var life = fold.Train.Units.Average(u => u.Times[^1] - u.Times[0]);
            foreach (var unit in fold.Test.Units)
            {
                predictions.AddRange(unit.Times.Select(t => Point(life - (t - unit.Times[0]), cap)));
            }
        }

        return predictions;
    }

    /// <summary>
    /// A least-squares line through the best indicator's last rows, extrapolated to its end-of-life level (the
    /// threshold, or the training units' mean end level relative to their first rows); mean life minus age while the
    /// line does not head there.
    /// </summary>
    private static List<RulEstimate> ExtrapolationBaseline(RunTable table, List<Fold> folds, List<IReadOnlyList<ColumnScore>> screens, RulTrainingOptions options, double? cap)
    {
        var window = Math.Max(5, options.Start.Window);
        var predictions = new List<RulEstimate>();
        for (var k = 0; k < folds.Count; k++)
        {
            var train = folds[k].Train;
            var column = Indicator(table, screens[k], options);
            var life = train.Units.Average(u => u.Times[^1] - u.Times[0]);
            var endOffset = train.Units.Average(u => u.Values[^1][column] - LifeDefinition.Reference(u, column));
            var longest = train.Units.Max(u => u.Times[^1] - u.Times[0]);
            foreach (var unit in folds[k].Test.Units)
            {
                for (var i = 0; i < unit.Times.Length; i++)
                {
                    var limit = options.Life is { } l ? l.LimitFor(unit, column, i) : LifeDefinition.Reference(unit, column, i) + endOffset;
                    var age = unit.Times[i] - unit.Times[0];
                    var (now, slope) = Line(unit, column, Math.Max(0, i - window + 1), i);
                    var toGo = limit - now;
                    var rul = Math.Abs(toGo) < 1e-12 || (options.Life is { } d ? d.IsPast(now, limit) : false) ? 0
                        : double.IsFinite(slope) && double.IsFinite(toGo) && slope != 0 && Math.Sign(slope) == Math.Sign(toGo) ? Math.Min(toGo / slope, longest)
                        : life - age;
                    predictions.Add(Point(rul, cap));
                }
            }
        }

        return predictions;
    }

    /// <summary>The fitted value at the last row and the slope per unit of time of a least-squares line over rows from..to.</summary>
    private static (double Now, double Slope) Line(RunTable.Unit unit, int column, int from, int to)
    {
        var n = to - from + 1;
        if (n < 2)
        {
            return (unit.Values[to][column], 0);
        }

        double st = 0, sx = 0;
        for (var i = from; i <= to; i++)
        {
            st += unit.Times[i];
            sx += unit.Values[i][column];
        }

        var (mt, mx) = (st / n, sx / n);
        double stt = 0, stx = 0;
        for (var i = from; i <= to; i++)
        {
            stt += (unit.Times[i] - mt) * (unit.Times[i] - mt);
            stx += (unit.Times[i] - mt) * (unit.Values[i][column] - mx);
        }

        var slope = stt > 0 ? stx / stt : 0;
        return (mx + (slope * (unit.Times[to] - mt)), slope);
    }

    private static RulEstimate Point(double rul, double? cap)
    {
        var value = Math.Max(0, cap is { } c ? Math.Min(c, rul) : rul);
        return new RulEstimate(value, value, value);
    }

    private static RulScore Score(string name, List<Row> truth, List<RulEstimate> predictions)
    {
        double se = 0, ae = 0;
        var perUnit = new Dictionary<string, (double Error, int Rows, double Life)>(StringComparer.Ordinal);
        for (var i = 0; i < truth.Count; i++)
        {
            var error = predictions[i].Rul - truth[i].Label;
            se += error * error;
            ae += Math.Abs(error);
            var (sum, rows, life) = perUnit.GetValueOrDefault(truth[i].Unit, (0, 0, truth[i].Life));
            perUnit[truth[i].Unit] = (sum + Math.Abs(error), rows + 1, life);
        }

        var shares = perUnit.Values.Select(u => u.Error / u.Rows / Math.Max(u.Life, 1e-9)).ToList();
        return new RulScore(name, Math.Sqrt(se / truth.Count), ae / truth.Count, shares.Average(), shares.Max()) { ByStage = ByStage(truth, predictions) };
    }

    /// <summary>The stage of life of a row: which fifth of its unit's life its age falls in (the last row, at the end, in the last).</summary>
    internal static int StageOf(double age, double life) =>
        life > 0 && double.IsFinite(age / life) ? Math.Clamp((int)Math.Floor(RulScore.Stages * age / life), 0, RulScore.Stages - 1) : 0;

    /// <summary><see cref="RulScore.ByStage"/>: per stage, the mean over units of the unit's MAE there ÷ its life.</summary>
    private static double[] ByStage(List<Row> truth, List<RulEstimate> predictions)
    {
        var perUnit = new Dictionary<(string Unit, int Stage), (double Error, int Rows, double Life)>();
        for (var i = 0; i < truth.Count; i++)
        {
            var key = (truth[i].Unit, StageOf(truth[i].Age, truth[i].Life));
            var (sum, rows, life) = perUnit.GetValueOrDefault(key, (0, 0, truth[i].Life));
            perUnit[key] = (sum + Math.Abs(predictions[i].Rul - truth[i].Label), rows + 1, life);
        }

        return [.. Enumerable.Range(0, RulScore.Stages).Select(stage =>
        {
            var shares = perUnit.Where(p => p.Key.Stage == stage).Select(p => p.Value.Error / p.Value.Rows / Math.Max(p.Value.Life, 1e-9)).ToList();
            return shares.Count == 0 ? double.NaN : shares.Average();
        })];
    }

    /// <summary>The tail shares tried, widest last, until the held-out coverage reaches the target's floor.</summary>
    private static readonly double[] Tails = [0.10, 0.08, 0.06, 0.05, 0.04, 0.03, 0.02, 0.01];

    /// <summary>
    /// Conformal interval: percentiles of the cross-validated errors (truth minus estimate), added to the estimate.
    /// Errors are not alike across units (a unit the population does not resemble is wrong throughout), so the 10th
    /// and 90th percentiles of some units' errors can cover less than 80% of another unit's rows; the tails are then
    /// narrowed (from 10% each side to at most 1%) until coverage on held-out folds reaches 70%. The coverage
    /// reported is measured from outside that choice: each fold's rows are judged against offsets whose tails were
    /// chosen, and whose percentiles were taken, on the other folds' errors only.
    /// </summary>
    private static (double Lower, double Upper, double Coverage, double Tail) Calibrate(List<Row> truth, List<RulEstimate> predictions, int folds)
    {
        var residuals = truth.Select((t, i) => t.Label - predictions[i].Rul).ToList();
        var all = Enumerable.Range(0, folds).ToHashSet();
        var tail = ChooseTail(truth, residuals, all);
        var (lower, upper) = Offsets(residuals, tail);
        var inside = 0;
        foreach (var k in all)
        {
            var others = all.Where(f => f != k).ToHashSet();
            var (foldLower, foldUpper) = Offsets(residuals.Where((_, i) => others.Contains(truth[i].Fold)), ChooseTail(truth, residuals, others));
            inside += truth.Where((t, i) => t.Fold == k && residuals[i] >= foldLower && residuals[i] <= foldUpper).Count();
        }

        return (lower, upper, (double)inside / truth.Count, tail);
    }

    /// <summary>The widest-needed tail among <see cref="Tails"/> for which offsets from all but one of <paramref name="folds"/> cover 70% of the one left out.</summary>
    private static double ChooseTail(List<Row> truth, List<double> residuals, HashSet<int> folds)
    {
        if (folds.Count < 2)
        {
            return Tails[0];
        }

        foreach (var share in Tails)
        {
            var (inside, rows) = (0, 0);
            foreach (var k in folds)
            {
                var (lower, upper) = Offsets(residuals.Where((_, i) => folds.Contains(truth[i].Fold) && truth[i].Fold != k), share);
                for (var i = 0; i < truth.Count; i++)
                {
                    if (truth[i].Fold == k)
                    {
                        rows++;
                        inside += residuals[i] >= lower && residuals[i] <= upper ? 1 : 0;
                    }
                }
            }

            if (rows > 0 && (double)inside / rows >= 0.7)
            {
                return share;
            }
        }

        return Tails[^1];
    }

    private static (double Lower, double Upper) Offsets(IEnumerable<double> residuals, double tail)
    {
        var sorted = residuals.Order().ToList();
        return (DegradationCurve.Quantile(sorted, tail), DegradationCurve.Quantile(sorted, 1 - tail));
    }

    /// <summary>
    /// Conformal calibration of a curve's own band (conformalized quantile regression): a row's score is how far its
    /// truth lies outside the band (negative inside), and the margin added to both sides is the 80th percentile of the
    /// scores, so that the band widened (or narrowed) by it holds 80% of held-out truths. The coverage reported is
    /// measured from outside that choice, on the band as served (never narrower than its estimate, see
    /// <see cref="RulModel.PredictLast"/>): each fold's rows against the margin of the other folds' scores.
    /// </summary>
    private static (double Margin, double Coverage) CalibrateBand(List<Row> truth, List<RulEstimate> predictions, int folds)
    {
        var scores = truth.Select((t, i) => Math.Max(predictions[i].Low - t.Label, t.Label - predictions[i].High)).ToList();
        double MarginOf(IEnumerable<double> s) => DegradationCurve.Quantile(s.Order().ToList(), 0.8);
        var inside = 0;
        for (var k = 0; k < folds; k++)
        {
            var margin = MarginOf(scores.Where((_, i) => truth[i].Fold != k));
            inside += truth.Where((t, i) => t.Fold == k
                && t.Label >= Math.Min(predictions[i].Rul, predictions[i].Low - margin) && t.Label <= Math.Max(predictions[i].Rul, predictions[i].High + margin)).Count();
        }

        return (MarginOf(scores), (double)inside / truth.Count);
    }

    private static double RawCoverage(List<Row> truth, List<RulEstimate> predictions) =>
        (double)truth.Where((t, i) => t.Label >= predictions[i].Low && t.Label <= predictions[i].High).Count() / truth.Count;

    private static string Names(List<string> units) => units.Count == 0 ? "" : $" ({string.Join(", ", units.Take(20))}{(units.Count > 20 ? ", …" : "")})";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
