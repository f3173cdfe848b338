using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Telemetry.Models.Rul;

namespace Telemetry.Models.Cli;

/// <summary>
/// <c>dotnet run --project models -- VERB [options]</c> (<c>--help</c> lists the verbs, <c>VERB --help</c> their
/// options with defaults). Progress goes to standard error with elapsed time; the result ends with a metrics table on
/// standard output. Bad input ends with a message and exit code 2.
/// </summary>
public static class ModelCommands
{
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error) =>
        VerbRunner.InvokeAsync(VerbRunner.Parse(Create(), args), output, error);

    public static RootCommand Create() => new("Trains and evaluates Telemetry's models: the shipped wear models, a remaining-useful-life model for your own run-to-failure data, the fault detector.")
    {
        TrainCommand(),
        TrainRulCommand(),
        PredictRulCommand(),
        EvaluateFaultsCommand(),
        SimulateRunsCommand(),
    };

    private static Command SimulateRunsCommand()
    {
        var kind = new Option<string>("--kind") { Description = "shoe (time: km) or band (time: charge cycles)", HelpName = "KIND", DefaultValueFactory = _ => "band" };
        kind.AcceptOnlyFromAmong("shoe", "band");
        var devices = new Option<int>("--devices") { Description = "Generated devices of that kind", HelpName = "N", DefaultValueFactory = _ => 200 }.Positive();
        var seed = new Option<int>("--seed") { Description = "Seed of the generated fleet", HelpName = "S", DefaultValueFactory = _ => 21 }.Positive();
        var days = new Option<int>("--days") { Description = "Simulated days; devices still alive then are left out", HelpName = "D", DefaultValueFactory = _ => 2500 }.Positive();
        var outPath = new Option<string>("--out") { Description = "The CSV to write: device, time, the weekly mean of each metric; each device's last row is its end of life", HelpName = "FILE.csv", Required = true };
        var command = new Command("simulate-runs", "Writes the generated fleet's run-to-failure histories as a CSV for train-rul (the simulator judged like anyone's data)")
        {
            kind, devices, seed, days, outPath,
        };
        command.SetAction(parse => Guarded(parse, (output, error) =>
        {
            var path = parse.GetRequiredValue(outPath);
            WritableOut(path);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            using var writer = new StreamWriter(path);
            var (failed, alive) = Simulation.RunToFailureExport.Write(parse.GetRequiredValue(kind), parse.GetValue(devices), parse.GetValue(seed), parse.GetValue(days), writer);
            error.WriteLine(Invariant($"wrote {failed} run-to-failure histories to {path}; {alive} devices still alive after {parse.GetValue(days)} days (or with under two weeks of use) were left out"));
            return 0;
        }));
        return command;
    }

    private static Command TrainRulCommand()
    {
        var csv = Csv("Run-to-failure history: one row per unit and time step, numeric sensor columns; several files (or a directory of *.csv) with the same header are read as one");
        var (unit, time) = (Unit(), Time());
        var outPath = new Option<string>("--out") { Description = "The model file to write", HelpName = "MODEL.zip", Required = true };
        var cap = new Option<double?>("--cap") { Description = "Cap remaining-life labels at this many time steps (piecewise-linear RUL) [default: none]", HelpName = "N" };
        cap.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double?>() is <= 0)
            {
                r.AddError($"--cap must be a positive number (was '{string.Join(' ', r.Tokens.Select(t => t.Value))}').");
            }
        });
        var endWhen = new Option<string?>("--end-when") { Description = "End of life is the first time a column crosses a limit: \"capacity<1.4\", \"wear>0.9\", or \"capacity<80%\" of the unit's first rows [default: each unit's last row]", HelpName = "COLUMN<VALUE" };
        var smooth = new Option<int>("--smooth") { Description = "Rolling median of this many rows over the --end-when column before it is compared", HelpName = "N", DefaultValueFactory = _ => 1 }.Positive();
        var window = new Option<int>("--window") { Description = "Time steps each feature window looks back (the search's first candidate)", HelpName = "W", DefaultValueFactory = _ => 15 }.Positive();
        var trees = new Option<int>("--trees") { Description = "FastTree trees (the search's first candidate)", HelpName = "T", DefaultValueFactory = _ => 200 }.Positive();
        var seed = new Option<int>("--seed") { Description = "Seed of the folds, the search and FastTree", HelpName = "S", DefaultValueFactory = _ => 7 }.Positive();
        var budget = new Option<TimeSpan>("--budget") { Description = "Time for the search of methods and settings by cross-validation (e.g. 60s, 5m, 0 for one candidate of each method)", HelpName = "TIME", DefaultValueFactory = _ => TimeSpan.FromSeconds(60), CustomParser = ParseDuration };
        var candidates = new Option<int?>("--candidates") { Description = "At most this many candidates in all, the first of each method included, for a search that does not depend on the machine's speed [default: as many as the budget allows]", HelpName = "N" };
        candidates.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is <= 0)
            {
                r.AddError($"--candidates must be a positive number (was '{string.Join(' ', r.Tokens.Select(t => t.Value))}').");
            }
        });
        var folds = new Option<int>("--folds") { Description = "Cross-validation folds of whole units, at least 2 (fewer when there are fewer units)", HelpName = "K", DefaultValueFactory = _ => 5 };
        folds.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 2)
            {
                r.AddError($"--folds must be at least 2 (was '{string.Join(' ', r.Tokens.Select(t => t.Value))}').");
            }
        });
        var requireBetter = new Option<bool>("--require-better") { Description = "Fail (exit code 1, no model written) unless the model beats both naive baselines, judged by nested cross-validation (implies --nested)" };
        var nested = new Option<bool>("--nested") { Description = "Also judge the whole search by nested cross-validation (each fold's method chosen without its units; takes about twice the budget); the verdict then uses it" };
        var method = new Option<string>("--method") { Description = "auto: below 5 units the curve blend; 5–19 units chosen by nested cross-validation; from 20 the lowest cross-validated RMSE. Or one of regression, curve, curve-fit, curve-blend", HelpName = "METHOD", DefaultValueFactory = _ => "auto" };
        method.AcceptOnlyFromAmong("auto", "regression", "curve", "curve-fit", "curve-blend");
        var command = new Command("train-rul", "Trains a remaining-useful-life model on your run-to-failure CSV, chooses its method and settings by unit-grouped cross-validation, and compares it with naive answers")
        {
            csv, unit, time, outPath, cap, endWhen, smooth, window, trees, seed, budget, candidates, folds, method, requireBetter, nested,
        };
        command.Validators.Add(r =>
        {
            if (r.GetResult(smooth) is { Implicit: false } && r.GetValue(endWhen) is null)
            {
                r.AddError("--smooth smooths the --end-when column; give --end-when too, or leave --smooth out.");
            }
        });
        command.SetAction(parse => Guarded(parse, (output, error) => TrainRul(
            parse.GetRequiredValue(csv), parse.GetValue(unit), parse.GetRequiredValue(time), parse.GetRequiredValue(outPath),
            new RulTrainingOptions
            {
                Start = new RulSettings { Cap = parse.GetValue(cap), Window = parse.GetValue(window), Trees = parse.GetValue(trees), Seed = parse.GetValue(seed) },
                Life = parse.GetValue(endWhen) is { } text ? LifeDefinition.Parse(text, parse.GetValue(smooth)) : null,
                Budget = parse.GetValue(budget),
                MaxCandidates = parse.GetValue(candidates) ?? int.MaxValue,
                Folds = parse.GetValue(folds),
                Methods = parse.GetValue(method) is { } m and not "auto" ? [m.Replace('-', ' ')] : null,
            },
            parse.GetValue(requireBetter), parse.GetValue(nested) || parse.GetValue(requireBetter), output, error)));
        return command;
    }

    /// <summary>A duration as people write it: 90s, 5m, 1h, 250ms, a plain number of seconds, or hh:mm:ss.</summary>
    private static TimeSpan ParseDuration(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value.Trim() : "";
        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, seconds) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) && (suffix != "s" || !text.EndsWith("ms", StringComparison.OrdinalIgnoreCase))
                && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0)
            {
                return TimeSpan.FromSeconds(value * seconds);
            }
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain) && plain >= 0)
        {
            return TimeSpan.FromSeconds(plain);
        }

        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero)
        {
            return span;
        }

        result.AddError($"--budget must be a duration such as 60s, 5m or 0 (was '{text}').");
        return TimeSpan.Zero;
    }

    private static Command PredictRulCommand()
    {
        var model = new Option<string>("--model") { Description = "A model written by train-rul", HelpName = "MODEL.zip", Required = true };
        var csv = Csv("Histories to score (with the columns the model was trained on); each unit's last row is scored");
        var (unit, time) = (Unit(), Time());
        var outPath = new Option<string>("--out") { Description = "The predictions to write, 'unit,rul,p10,p90' per unit", HelpName = "PREDICTIONS.csv", Required = true };
        var command = new Command("predict-rul", "Predicts each unit's remaining useful life at its last row, with its 10th–90th percentile interval, with a train-rul model")
        {
            model, csv, unit, time, outPath,
        };
        command.SetAction(parse => Guarded(parse, (output, error) => PredictRul(
            parse.GetRequiredValue(model), parse.GetRequiredValue(csv), parse.GetValue(unit), parse.GetRequiredValue(time), parse.GetRequiredValue(outPath),
            output, error)));
        return command;
    }

    private static Command TrainCommand()
    {
        var devices = new Option<int>("--devices") { Description = "Generated shoes to train on (bands: a third of it); calibration and test sets are a third of each", HelpName = "N", DefaultValueFactory = _ => 2400 }.Positive();
        var seed = new Option<int>("--seed") { Description = "Seed of the generated fleets and of FastTree", HelpName = "S", DefaultValueFactory = _ => 11 }.Positive();
        var outDir = new Option<string>("--out") { Description = "Where to write {shoe,band}-rul.zip and their reports", HelpName = "DIR", DefaultValueFactory = _ => Path.Combine("models", "trained") };
        var command = new Command("train", "Trains the built-in shoe and band wear models on generated fleets and writes the shipped models")
        {
            devices, seed, outDir,
        };
        command.SetAction(parse => Guarded(parse, (output, error) => Train(parse.GetValue(devices), parse.GetValue(seed), parse.GetRequiredValue(outDir), output, error)));
        return command;
    }

    private static Command EvaluateFaultsCommand()
    {
        var devices = new Option<int>("--devices") { Description = "Simulated devices", HelpName = "N", DefaultValueFactory = _ => 2000 }.Positive();
        var seed = new Option<int>("--seed") { Description = "Seed of the simulated fleet", HelpName = "S", DefaultValueFactory = _ => 101 }.Positive();
        var days = new Option<double>("--days") { Description = "Simulated days per device", HelpName = "D", DefaultValueFactory = _ => 180 }.Positive();
        var command = new Command("evaluate-faults", "Runs a simulated fleet through the fault detector and scores it against the faults the simulation planted")
        {
            devices, seed, days,
        };
        command.SetAction(parse => Guarded(parse, (output, error) => EvaluateFaults(parse.GetValue(devices), parse.GetValue(seed), parse.GetValue(days), output, error)));
        return command;
    }

    private static Option<string[]> Csv(string description) => new("--csv") { Description = description, HelpName = "FILE", Required = true, AllowMultipleArgumentsPerToken = true };

    private static Option<string?> Unit() => new("--unit") { Description = "The column naming the unit (engine, device) [default: none, each file is one unit named after it]", HelpName = "COLUMN" };

    private static Option<string> Time() => new("--time") { Description = "The column of the time step (cycle, day)", HelpName = "COLUMN", Required = true };

    /// <summary>
    /// Input the verb cannot use (a bad CSV, a model that does not fit the file) or an output it cannot write ends with
    /// its message and exit code 2.
    /// </summary>
    private static int Guarded(ParseResult parse, Func<TextWriter, TextWriter, int> run)
    {
        var error = parse.InvocationConfiguration.Error;
        try
        {
            return run(parse.InvocationConfiguration.Output, error);
        }
        catch (RunTableException e)
        {
            error.WriteLine(e.Message);
            return VerbRunner.UsageError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"Cannot read or write a file: {e.Message}");
            return VerbRunner.UsageError;
        }
    }

    /// <summary>Refuses an output path that cannot be written before the work that would fill it (a search takes a minute).</summary>
    private static void WritableOut(string path)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new RunTableException($"--out {path} is a directory; give a file name.");
        }

        for (var parent = Path.GetDirectoryName(full); !string.IsNullOrEmpty(parent); parent = Path.GetDirectoryName(parent))
        {
            if (File.Exists(parent))
            {
                throw new RunTableException($"--out {path}: {parent} is a file, so no directory can be made there.");
            }

            if (Directory.Exists(parent))
            {
                break;
            }
        }
    }

    private static int TrainRul(string[] csv, string? unit, string time, string outPath, RulTrainingOptions options, bool requireBetter, bool nested, TextWriter output, TextWriter error)
    {
        var log = new Progress(error, Stopwatch.StartNew());
        WritableOut(outPath);
        var table = RunTable.Read(csv, unit, time);
        log.Report($"read {table.RowCount} rows of {table.Units.Count} units, {table.Columns.Length} numeric columns");
        var (model, report) = RulTrainer.Train(table, options, log);
        if (nested)
        {
            log.Report("nested cross-validation of the whole search");
            report = report with { Nested = RulTrainer.Nested(table, options, log) };
        }

        WriteRulReport(output, report, options);
        if (!report.BeatsBaselines)
        {
            error.WriteLine();
            var judged = report.Nested ?? report.Model;
            error.WriteLine(Invariant($"WARNING: the model does NOT beat the naive answers on {(report.Nested is null ? "" : "nested ")}cross-validation: RMSE {judged.Rmse:F2} against {report.MeanLifeBaseline.Rmse:F2} (mean life minus age) and {report.ExtrapolationBaseline.Rmse:F2} ({report.ExtrapolationBaseline.Name}); error {judged.MeanLifeError:P1} of life against {report.MeanLifeBaseline.MeanLifeError:P1} and {report.ExtrapolationBaseline.MeanLifeError:P1}."));
            error.WriteLine("Its estimates are no better than knowing nothing about the unit: more units, an --end-when on a real health indicator, or a longer --budget may help.");
            if (requireBetter)
            {
                error.WriteLine($"--require-better: no model written to {outPath}.");
                return 1;
            }
        }

        model.WithTime(time).Save(outPath);
        log.Report($"wrote {outPath}");
        return 0;
    }

    internal static void WriteRulReport(TextWriter output, RulReport r, RulTrainingOptions options)
    {
        output.WriteLine();
        output.WriteLine(Invariant($"cross-validation: {r.Folds} folds of whole units, {r.Units} units, {r.Rows} rows; end of life: {(options.Life is { } life ? life.ToString() : "each unit's last row")}; label cap: {(options.Start.Cap is { } c ? c.ToString(CultureInfo.InvariantCulture) : "none")}"));
        if (r.Censored.Count > 0)
        {
            output.WriteLine(Invariant($"left out as censored (never reach the end of life): {r.Censored.Count} units ({string.Join(", ", r.Censored)})"));
        }

        if (r.PastAtStart.Count > 0)
        {
            output.WriteLine(Invariant($"left out as past the end of life at their first row (their life is not in the file): {r.PastAtStart.Count} units ({string.Join(", ", r.PastAtStart)})"));
        }

        output.WriteLine();
        output.WriteLine("| predictor | RMSE | MAE | mean error, share of life | worst unit |");
        output.WriteLine("|---|---:|---:|---:|---:|");
        RulScore[] rows = r.Nested is { } n
            ? [r.Model with { Name = $"model: {r.Method}, as chosen (optimistic)" }, n with { Name = $"**model, {n.Name}**" }, r.MeanLifeBaseline, r.ExtrapolationBaseline]
            : [r.Model with { Name = $"**model: {r.Method}**" }, r.MeanLifeBaseline, r.ExtrapolationBaseline];
        foreach (var s in rows)
        {
            output.WriteLine(Invariant($"| {s.Name} | {s.Rmse:F2} | {s.Mae:F2} | {s.MeanLifeError:P1} | {s.WorstLifeError:P1} |"));
        }

        // The model row the verdict judges (nested when there is one), under its name in the table above.
        WriteStages(output, rows[^3], r.MeanLifeBaseline, r.ExtrapolationBaseline);
        output.WriteLine();
        output.WriteLine(Invariant($"method: {r.Method} ({r.Settings}), one of {r.Candidates.Count} candidates tried in {r.Elapsed.TotalSeconds:F0} s; health indicator: {r.Indicator}"));
        output.WriteLine(r.Selection);
        if (r.MethodScores.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("| method, its own search judged on units it did not see | RMSE | MAE | mean error, share of life | worst unit |");
            output.WriteLine("|---|---:|---:|---:|---:|");
            foreach (var s in r.MethodScores)
            {
                output.WriteLine(Invariant($"| {s.Name} | {s.Rmse:F2} | {s.Mae:F2} | {s.MeanLifeError:P1} | {s.WorstLifeError:P1} |"));
            }

            output.WriteLine();
        }
        if (r.Method == "regression")
        {
            output.WriteLine(Invariant($"features: {r.Features}; columns dropped as constant: {r.DroppedConstant}; as not trending with age: {r.DroppedNoise}"));
        }

        if (r.OwnBand)
        {
            output.WriteLine(Invariant($"p10–p90 interval: the curve's own band {r.BandMargin:+0.0;-0.0} each side (conformal margin from held-out errors), covering {r.BandCoverage:P0} of held-out rows (target 70–90%; the band as it is {r.RawCoverage:P0}), nearer the target than the calibrated offsets' {r.Coverage:P0}"));
        }
        else
        {
            output.WriteLine(Invariant($"p10–p90 interval: estimate {r.Interval.Lower:+0.0;-0.0} / {r.Interval.Upper:+0.0;-0.0}{(r.IntervalTail < 0.1 ? Invariant($" (widened to the {r.IntervalTail:P0}–{1 - r.IntervalTail:P0} percentiles of the errors to reach 70%)") : "")}; coverage on held-out units {r.Coverage:P0} (target 70–90%){(r.RawCoverage is { } raw ? Invariant($", the curve's own band {raw:P0} ({r.BandCoverage:P0} with a margin of {r.BandMargin:+0.0;-0.0})") : "")}"));
        }

        if (r.Choices.Select(c => c.Setting).Distinct().Count() < r.Choices.Count)
        {
            // Only worth a table when the search tried more than one value of something.
            output.WriteLine();
            output.WriteLine("| setting | value | best RMSE with it | candidates |");
            output.WriteLine("|---|---:|---:|---:|");
            foreach (var (setting, value, rmse, count) in r.Choices)
            {
                output.WriteLine(Invariant($"| {setting} | {value} | {rmse:F2} | {count} |"));
            }

            output.WriteLine();
        }

        output.WriteLine(r.BeatsBaselines ? "verdict: the model beats both naive answers" : "verdict: the model does NOT beat the naive answers");
    }

    /// <summary>The error by stage of life: where the model helps, and where it says no more than the training units' lives.</summary>
    private static void WriteStages(TextWriter output, RulScore model, RulScore meanLife, RulScore extrapolation)
    {
        if (model.ByStage.Count != RulScore.Stages || meanLife.ByStage.Count != RulScore.Stages)
        {
            return;
        }

        string Stage(int k) => Invariant($"{100 * k / RulScore.Stages}–{100 * (k + 1) / RulScore.Stages}%");
        string Share(double value) => double.IsNaN(value) ? "–" : value.ToString("P1", CultureInfo.InvariantCulture);
        output.WriteLine();
        output.WriteLine("error by stage of life (a unit's age as a share of its life; error as a share of its life, mean over units):");
        output.WriteLine();
        output.WriteLine($"| predictor | {string.Join(" | ", Enumerable.Range(0, RulScore.Stages).Select(Stage))} |");
        output.WriteLine($"|---|{string.Concat(Enumerable.Repeat("---:|", RulScore.Stages))}");
        foreach (var s in new[] { model, meanLife, extrapolation }.Where(s => s.ByStage.Count == RulScore.Stages))
        {
            output.WriteLine($"| {s.Name} | {string.Join(" | ", s.ByStage.Select(Share))} |");
        }

        // NaN compares false: a stage without rows is named neither way.
        var behind = Enumerable.Range(0, RulScore.Stages).Where(k => model.ByStage[k] >= meanLife.ByStage[k]).ToList();
        var empty = model.ByStage.Any(double.IsNaN) ? " with rows" : "";
        output.WriteLine();
        output.WriteLine(behind.Count == 0
            ? $"the model beats mean life minus age at every stage of life{empty}"
            : $"the model is no better than mean life minus age at {string.Join(", ", behind.Select(Stage))} of life: there the training units' mean life, less the unit's age, is as good an answer");
    }

    private static int PredictRul(string modelPath, string[] csv, string? unit, string time, string outPath, TextWriter output, TextWriter error)
    {
        var log = new Progress(error, Stopwatch.StartNew());
        var model = RulModel.Load(modelPath);
        var table = RunTable.Read(csv, unit, time, requireTwoRows: false);
        log.Report($"read {table.RowCount} rows of {table.Units.Count} units");
        var predictions = model.PredictLast(table);
        WritableOut(outPath);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        using (var writer = new StreamWriter(outPath))
        {
            writer.WriteLine("unit,rul,p10,p90");
            foreach (var (id, e) in predictions)
            {
                writer.WriteLine(Invariant($"{id},{e.Rul:F2},{e.Low:F2},{e.High:F2}"));
            }
        }

        log.Report($"wrote {predictions.Count} predictions to {outPath} ({model.Method} model)");
        output.WriteLine();
        output.WriteLine("| units | mean predicted RUL | min | max |");
        output.WriteLine("|---:|---:|---:|---:|");
        output.WriteLine(Invariant($"| {predictions.Count} | {predictions.Average(p => p.Estimate.Rul):F1} | {predictions.Min(p => p.Estimate.Rul):F1} | {predictions.Max(p => p.Estimate.Rul):F1} |"));
        return 0;
    }

    /// <summary>Trains the built-in shoe and band models on generated fleets and writes the shipped models (models/trained/).</summary>
    private static int Train(int devices, int seed, string outDir, TextWriter output, TextWriter error)
    {
        var log = new Progress(error, Stopwatch.StartNew());
        const string Version = "fasttree-1";
        var reports = new List<Learning.WearModelReport>();
        foreach (var kind in new[] { "shoe", "band" })
        {
            var build = kind == "shoe" ? (Func<int, int, List<Learning.WearExample>>)((n, s) => Learning.WearDataset.Shoes(n, s)) : (n, s) => Learning.WearDataset.Bands(n, s);
            var perSet = kind == "shoe" ? devices : devices / 3;
            log.Report($"{kind}: generating {perSet} training, {perSet / 3} calibration and {perSet / 3} test devices");
            var train = build(perSet, seed);
            var calibration = build(perSet / 3, seed + 1);
            var test = build(perSet / 3, seed + 2);
            log.Report($"{kind}: training FastTree on {train.Count} examples");
            var (model, ml, report) = Learning.WearTrainer.Train(kind, train, calibration, test, seed, $"{kind}-{Version}", log);
            Learning.WearTrainer.Save(outDir, ml, model, report);
            reports.Add(report);
            log.Report($"{kind}: wrote {outDir}/{kind}-rul.zip");
        }

        output.WriteLine();
        output.WriteLine("| model | held-out devices | MAE regression | MAE degradation curve | MAE curve fit | method served | MAE rules | improvement (target ≥ 30%) | p10–p90 coverage (target 70–90%) |");
        output.WriteLine("|---|---:|---:|---:|---:|---|---:|---:|---:|");
        foreach (var r in reports)
        {
            output.WriteLine(Invariant($"| {r.Version} | {r.TestDevices} ({r.TestExamples} examples) | {r.MaeRegression:F1} {r.Unit} | {r.MaeCurve:F1} {r.Unit} | {r.MaeCurveFit:F1} {r.Unit} | {r.Method} | {r.MaeRule:F1} {r.Unit} | {r.Improvement:P0} | {r.Coverage:P0} |"));
        }

        return 0;
    }

    private static int EvaluateFaults(int devices, int seed, double days, TextWriter output, TextWriter error)
    {
        var log = new Progress(error, Stopwatch.StartNew());
        log.Report($"simulating {devices} devices for {days} days (seed {seed})");
        var result = Faults.FaultEvaluation.Run(Simulation.FleetGenerator.Create(devices, seed), TimeSpan.FromDays(days), new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), log);
        log.Report("done");
        WriteFaultTable(output, result);
        return 0;
    }

    internal static void WriteFaultTable(TextWriter output, Faults.FaultEvaluationResult r)
    {
        output.WriteLine();
        output.WriteLine("| measure | result | target |");
        output.WriteLine("|---|---:|---|");
        output.WriteLine(Invariant($"| sudden faults (delamination, water ingress) detected within 5 readings of onset | {r.DetectedWithin5}/{r.SuddenFaults} = {r.DetectionRate:P1} | ≥ 90% |"));
        output.WriteLine(Invariant($"| healthy devices with a false fault alert over the run | {r.HealthyFalseAlerts}/{r.HealthyDevices} = {r.FalseAlertRate:P2} | < 1% |"));
        output.WriteLine(Invariant($"| early battery fades detected | {r.FadeDetected}/{r.FadeFaults}, median {r.MedianFadeDelayCycles:F0} cycles after onset | — |"));
        output.WriteLine(Invariant($"| sudden faults whose onset fell inside the device's baseline | {r.FaultsInBaseline} | — |"));
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed class Progress(TextWriter error, Stopwatch clock) : IProgress<string>
    {
        public void Report(string value) => error.WriteLine(Invariant($"[{clock.Elapsed.TotalSeconds,6:F1} s] {value}"));
    }
}
