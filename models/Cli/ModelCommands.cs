using System.Diagnostics;
using System.Globalization;
using Telemetry.Models.Rul;

namespace Telemetry.Models.Cli;

/// <summary>
/// <c>dotnet run --project models -- COMMAND</c>. Progress goes to standard error with elapsed time; the
/// result ends with a metrics table on standard output. Bad input ends with a message and exit code 2.
/// </summary>
public static class ModelCommands
{
    private const string Usage = """
        usage:
          train-rul   --csv FILE --unit COL --time COL --out MODEL.zip [--cap N] [--window W] [--trees T] [--seed S]
          predict-rul --model MODEL.zip --csv FILE --unit COL --time COL --out PREDICTIONS.csv
        """;

    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        try
        {
            return Task.FromResult(args switch
            {
                ["train-rul", .. var rest] => TrainRul(Options.Parse(rest), output, error),
                ["predict-rul", .. var rest] => PredictRul(Options.Parse(rest), output, error),
                ["evaluate-faults", .. var rest] => EvaluateFaults(Options.Parse(rest), output, error),
                ["train", .. var rest] => Train(Options.Parse(rest), output, error),
                _ => Fail(error, Usage),
            });
        }
        catch (RunTableException e)
        {
            return Task.FromResult(Fail(error, e.Message));
        }
    }

    private static int TrainRul(Options options, TextWriter output, TextWriter error)
    {
        var progress = new Stopwatch();
        progress.Start();
        var log = new Progress(error, progress);
        var csv = options.Required("--csv");
        var table = RunTable.Read(csv, options.Required("--unit"), options.Required("--time"));
        log.Report($"read {table.RowCount} rows of {table.Units.Count} units, {table.Columns.Length} numeric columns");
        var settings = new RulSettings
        {
            Cap = options.Number("--cap"),
            Window = (int)(options.Number("--window") ?? 15),
            Trees = (int)(options.Number("--trees") ?? 200),
            Seed = (int)(options.Number("--seed") ?? 7),
        };
        var (model, metrics) = RulModel.Train(table, settings, log);
        var outPath = options.Required("--out");
        model.Save(outPath);
        log.Report($"wrote {outPath}");

        output.WriteLine();
        output.WriteLine(Invariant($"| held-out units | rows | RMSE | MAE | constant-mean RMSE | constant-mean MAE |"));
        output.WriteLine("|---:|---:|---:|---:|---:|---:|");
        output.WriteLine(Invariant($"| {metrics.TestUnits} (trained on {metrics.TrainUnits}) | {metrics.TestRows} | {metrics.Rmse:F2} | {metrics.Mae:F2} | {metrics.BaselineRmse:F2} | {metrics.BaselineMae:F2} |"));
        output.WriteLine(Invariant($"features: {metrics.Features}; columns dropped as constant: {metrics.DroppedColumns}; label cap: {(settings.Cap is { } c ? c.ToString(CultureInfo.InvariantCulture) : "none")}"));
        return 0;
    }

    private static int PredictRul(Options options, TextWriter output, TextWriter error)
    {
        var clock = Stopwatch.StartNew();
        var log = new Progress(error, clock);
        var model = RulModel.Load(options.Required("--model"));
        var table = RunTable.Read(options.Required("--csv"), options.Required("--unit"), options.Required("--time"), requireTwoRows: false);
        log.Report($"read {table.RowCount} rows of {table.Units.Count} units");
        var predictions = model.PredictLast(table);
        var outPath = options.Required("--out");
        using (var writer = new StreamWriter(outPath))
        {
            writer.WriteLine("unit,rul");
            foreach (var (unit, rul) in predictions)
            {
                writer.WriteLine(Invariant($"{unit},{rul:F2}"));
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
    private static int Train(Options options, TextWriter output, TextWriter error)
    {
        var clock = Stopwatch.StartNew();
        var log = new Progress(error, clock);
        var devices = (int)(options.Number("--devices") ?? 2400);
        var seed = (int)(options.Number("--seed") ?? 11);
        var outDir = options.Optional("--out") ?? Path.Combine("models", "trained");
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
            var (model, ml, report) = Learning.WearTrainer.Train(kind, train, calibration, test, seed, $"{kind}-{Version}");
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

    private static int EvaluateFaults(Options options, TextWriter output, TextWriter error)
    {
        var clock = Stopwatch.StartNew();
        var log = new Progress(error, clock);
        var devices = (int)(options.Number("--devices") ?? 2000);
        var seed = (int)(options.Number("--seed") ?? 101);
        var days = options.Number("--days") ?? 180;
        log.Report($"simulating {devices} devices for {days} days (seed {seed})");
        var result = Faults.FaultEvaluation.Run(Simulation.FleetGenerator.Create(devices, seed), TimeSpan.FromDays(days), new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
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

    private static int Fail(TextWriter error, string message)
    {
        error.WriteLine(message);
        return 2;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed class Progress(TextWriter error, Stopwatch clock) : IProgress<string>
    {
        public void Report(string value) => error.WriteLine(Invariant($"[{clock.Elapsed.TotalSeconds,6:F1} s] {value}"));
    }

    private sealed class Options
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

        public static Options Parse(string[] args)
        {
            var options = new Options();
            for (var i = 0; i < args.Length; i++)
            {
                if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                {
                    throw new RunTableException($"'{args[i]}' is not an option with a value.\n{Usage}");
                }

                options._values[args[i]] = args[++i];
            }

            return options;
        }

        public string Required(string name) =>
            _values.TryGetValue(name, out var value) ? value : throw new RunTableException($"{name} is required.\n{Usage}");

        public string? Optional(string name) => _values.GetValueOrDefault(name);

        public double? Number(string name)
        {
            if (!_values.TryGetValue(name, out var text))
            {
                return null;
            }

            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0
                ? value
                : throw new RunTableException($"{name} must be a positive number (was '{text}').");
        }
    }
}
