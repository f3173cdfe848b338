using BenchmarkDotNet.Attributes;
using Telemetry.Models.Cli;
using Telemetry.Models.Rul;

namespace Telemetry.Bench;

/// <summary>
/// A brand's own train-rul model served to a band twin (<see cref="OwnRulModel"/>): within a week, the week's answer less
/// the cycles used since; in a new week, a row added to the twin's run and the model scored on it (a curve fit over 114
/// rows, a regression of 200 trees over its window). Models trained on 30 generated bands, as in the tests.
/// </summary>
[MemoryDiagnoser]
public class OwnRulBenchmarks
{
    private static readonly string[] BandColumns = ["capacity_mah", "temp_c", "humidity_pct", "hr_snr_db", "battery_mv", "rated_mah"];

    private OwnRulModel _fit = null!;
    private OwnRulModel _regression = null!;
    private WeeklyRun _fitRun = null!;
    private WeeklyRun _regressionRun = null!;

    [GlobalSetup]
    public void Train()
    {
        var root = Directory.CreateTempSubdirectory("bench-own-rul-").FullName;
        var csv = Path.Combine(root, "bands.csv");
        Run(["simulate-runs", "--kind", "band", "--devices", "30", "--seed", "5", "--out", csv]);
        Run(["train-rul", "--csv", csv, "--unit", "device", "--time", "cycles", "--method", "curve-fit", "--candidates", "1", "--out", Path.Combine(root, "fit.zip")]);
        Run(["train-rul", "--csv", csv, "--unit", "device", "--time", "cycles", "--method", "regression", "--candidates", "1", "--out", Path.Combine(root, "regression.zip")]);
        _fit = OwnRulModel.Load(Path.Combine(root, "fit.zip"), "band");
        _regression = OwnRulModel.Load(Path.Combine(root, "regression.zip"), "band");
        (_fitRun, _regressionRun) = (_fit.NewRun(0, 0), _regression.NewRun(0, 0));
        for (var week = 0; week < _fitRun.Head + _fitRun.Tail; week++)
        {
            AddWeek(_fitRun);
            AddWeek(_regressionRun);
        }

        Directory.Delete(root, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public double WithinWeek() => _fit.Estimate(_fitRun, _fitRun.Times[^1] + 2)!.Value.Rul;

    [Benchmark]
    public double CurveFitNewWeek()
    {
        AddWeek(_fitRun);
        return _fit.Estimate(_fitRun, _fitRun.Times[^1] + 2)!.Value.Rul;
    }

    [Benchmark]
    public double RegressionNewWeek()
    {
        AddWeek(_regressionRun);
        return _regression.Estimate(_regressionRun, _regressionRun.Times[^1] + 2)!.Value.Rul;
    }

    private static void Run(string[] args)
    {
        var error = new StringWriter();
        if (ModelCommands.RunAsync(args, TextWriter.Null, error).GetAwaiter().GetResult() != 0)
        {
            throw new InvalidOperationException(error.ToString());
        }
    }

    /// <summary>A week of a band, 5 cycles a week, fading 0.1% a cycle and recovering every 150 cycles, so that however
    /// many weeks the benchmark adds, the band stays short of its 80% limit (where a curve answers 0 without scoring).</summary>
    private static void AddWeek(WeeklyRun run)
    {
        var cycles = 5.0 * (run.Version + 1);
        run.Observe("charge_cycles", cycles);
        foreach (var column in BandColumns)
        {
            run.Observe(column, column == "capacity_mah" ? 300 * (1 - (0.001 * (cycles % 150))) : 30);
        }

        run.CloseWeek(null, 300);
    }
}
