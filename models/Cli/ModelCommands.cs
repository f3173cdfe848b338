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
    };

    private static Command TrainRulCommand()
    {
        var csv = Csv("Run-to-failure history: one row per unit and time step, numeric sensor columns");
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
        var window = new Option<int>("--window") { Description = "Time steps each feature window looks back", HelpName = "W", DefaultValueFactory = _ => 15 }.Positive();
        var trees = new Option<int>("--trees") { Description = "FastTree trees", HelpName = "T", DefaultValueFactory = _ => 200 }.Positive();
        var seed = new Option<int>("--seed") { Description = "Seed of the train/test split and of FastTree", HelpName = "S", DefaultValueFactory = _ => 7 }.Positive();
        var command = new Command("train-rul", "Trains a remaining-useful-life model on your run-to-failure CSV, holding out a fifth of the units to measure it")
        {
            csv, unit, time, outPath, cap, window, trees, seed,
        };
        command.SetAction(parse => Guarded(parse, (output, error) => TrainRul(
            parse.GetRequiredValue(csv), parse.GetRequiredValue(unit), parse.GetRequiredValue(time), parse.GetRequiredValue(outPath),
            new RulSettings { Cap = parse.GetValue(cap), Window = parse.GetValue(window), Trees = parse.GetValue(trees), Seed = parse.GetValue(seed) },
            output, error)));
        return command;
    }

    private static Command PredictRulCommand()
    {
        var model = new Option<string>("--model") { Description = "A model written by train-rul", HelpName = "MODEL.zip", Required = true };
        var csv = Csv("Histories to score (with the columns the model was trained on); each unit's last row is scored");
        var (unit, time) = (Unit(), Time());
        var outPath = new Option<string>("--out") { Description = "The predictions to write, 'unit,rul' per unit", HelpName = "PREDICTIONS.csv", Required = true };
        var command = new Command("predict-rul", "Predicts each unit's remaining useful life at its last row with a train-rul model")
        {
            model, csv, unit, time, outPath,
        };
        command.SetAction(parse => Guarded(parse, (output, error) => PredictRul(
            parse.GetRequiredValue(model), parse.GetRequiredValue(csv), parse.GetRequiredValue(unit), parse.GetRequiredValue(time), parse.GetRequiredValue(outPath),
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

    private static Option<string> Csv(string description) => new("--csv") { Description = description, HelpName = "FILE", Required = true };

    private static Option<string> Unit() => new("--unit") { Description = "The column naming the unit (engine, device)", HelpName = "COLUMN", Required = true };

    private static Option<string> Time() => new("--time") { Description = "The column of the time step (cycle, day)", HelpName = "COLUMN", Required = true };

    /// <summary>Input the verb cannot use (a bad CSV, a model that does not fit the file) ends with its message and exit code 2.</summary>
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
    }

    private static int TrainRul(string csv, string unit, string time, string outPath, RulSettings settings, TextWriter output, TextWriter error)
    {
        var log = new Progress(error, Stopwatch.StartNew());
        var table = RunTable.Read(csv, unit, time);
        log.Report($"read {table.RowCount} rows of {table.Units.Count} units, {table.Columns.Length} numeric columns");
        var (model, metrics) = RulModel.Train(table, settings, log);
        model.Save(outPath);
        log.Report($"wrote {outPath}");

        output.WriteLine();
        output.WriteLine(Invariant($"| held-out units | rows | RMSE | MAE | constant-mean RMSE | constant-mean MAE |"));
        output.WriteLine("|---:|---:|---:|---:|---:|---:|");
        output.WriteLine(Invariant($"| {metrics.TestUnits} (trained on {metrics.TrainUnits}) | {metrics.TestRows} | {metrics.Rmse:F2} | {metrics.Mae:F2} | {metrics.BaselineRmse:F2} | {metrics.BaselineMae:F2} |"));
        output.WriteLine(Invariant($"features: {metrics.Features}; columns dropped as constant: {metrics.DroppedColumns}; label cap: {(settings.Cap is { } c ? c.ToString(CultureInfo.InvariantCulture) : "none")}"));
        return 0;
    }

    private static int PredictRul(string modelPath, string csv, string unit, string time, string outPath, TextWriter output, TextWriter error)
    {
        var log = new Progress(error, Stopwatch.StartNew());
        var model = RulModel.Load(modelPath);
        var table = RunTable.Read(csv, unit, time, requireTwoRows: false);
        log.Report($"read {table.RowCount} rows of {table.Units.Count} units");
        var predictions = model.PredictLast(table);
        using (var writer = new StreamWriter(outPath))
        {
            writer.WriteLine("unit,rul");
            foreach (var (id, rul) in predictions)
            {
                writer.WriteLine(Invariant($"{id},{rul:F2}"));
            }
        }

        log.Report($"wrote {predictions.Count} predictions to {outPath}");
        output.WriteLine();
        output.WriteLine("| units | mean predicted RUL | min | max |");
        output.WriteLine("|---:|---:|---:|---:|");
        output.WriteLine(Invariant($"| {predictions.Count} | {predictions.Average(p => p.Rul):F1} | {predictions.Min(p => p.Rul):F1} | {predictions.Max(p => p.Rul):F1} |"));
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
        output.WriteLine("| model | held-out devices | MAE learned | MAE rules | improvement (target ≥ 30%) | p10–p90 coverage (target 70–90%) |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var r in reports)
        {
            output.WriteLine(Invariant($"| {r.Version} | {r.TestDevices} ({r.TestExamples} examples) | {r.MaeModel:F1} {r.Unit} | {r.MaeRule:F1} {r.Unit} | {r.Improvement:P0} | {r.Coverage:P0} |"));
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
