using System.Globalization;
using System.Text;
using Telemetry.Models.Cli;
using Telemetry.Models.Rul;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// train-rul and predict-rul on a generated run-to-failure history shaped like the public turbofan data
/// sets: units that run to failure, sensors that drift as health falls, plus noise and constant columns.
/// Column names are deliberately unlike anything of ours.
/// </summary>
public sealed class RulTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rul-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes a CSV of <paramref name="units"/> engines; returns the true RUL at each unit's last row when truncated.</summary>
    internal static Dictionary<string, double> Generate(string path, int units, int seed, bool truncate = false)
    {
        var random = new Random(seed);
        var truth = new Dictionary<string, double>();
        var csv = new StringBuilder("engine;cycle;op1;op2;const_a;s1;s2;s3;s4;noise;const_b\n");
        for (var u = 1; u <= units; u++)
        {
            var life = 120 + random.Next(240);
            var rate = 0.8 + (random.NextDouble() * 0.4);
            var last = truncate ? 20 + random.Next(life - 30) : life;
            truth[$"e{u}"] = life - last;
            for (var t = 1; t <= last; t++)
            {
                var wear = Math.Exp(3.0 * t / life) - 1; // accelerating degradation, 0 .. ~19
                double Noise(double s) => s * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                csv.Append(CultureInfo.InvariantCulture, $"e{u};{t};{Noise(0.002):F4};{Noise(0.0003):F5};100;")
                    .Append(CultureInfo.InvariantCulture, $"{641.8 + (0.03 * rate * wear) + Noise(0.5):F3};{1589.7 + (0.4 * rate * wear) + Noise(6):F2};")
                    .Append(CultureInfo.InvariantCulture, $"{47.4 + (0.015 * rate * wear) + Noise(0.25):F3};{9065 - (0.6 * rate * wear) + Noise(20):F1};{Noise(1):F3};21.61\n");
            }
        }

        File.WriteAllText(path, csv.ToString());
        return truth;
    }

    [Fact]
    public async Task TrainThenPredict_BeatsTheConstantMeanBaselineByAWideMargin()
    {
        var train = Path.Combine(_dir, "train.csv");
        var test = Path.Combine(_dir, "test.csv");
        var model = Path.Combine(_dir, "model.zip");
        var predictions = Path.Combine(_dir, "predictions.csv");
        Generate(train, 60, seed: 1);
        var truth = Generate(test, 30, seed: 2, truncate: true);
        var output = new StringWriter();

        Assert.Equal(0, await ModelCommands.RunAsync(["train-rul", "--csv", train, "--unit", "engine", "--time", "cycle", "--out", model, "--cap", "125", "--trees", "100"], output, new StringWriter()));
        Assert.Equal(0, await ModelCommands.RunAsync(["predict-rul", "--model", model, "--csv", test, "--unit", "engine", "--time", "cycle", "--out", predictions], new StringWriter(), new StringWriter()));

        // The held-out metrics in the table beat the constant mean.
        var row = output.ToString().Split('\n').First(l => l.StartsWith("| 12 ", StringComparison.Ordinal)).Split('|', StringSplitOptions.TrimEntries);
        var (mae, baselineMae) = (double.Parse(row[4], CultureInfo.InvariantCulture), double.Parse(row[6], CultureInfo.InvariantCulture));
        Assert.True(mae < baselineMae * 0.5, $"held-out MAE {mae} vs constant-mean {baselineMae}");
        Assert.Contains("columns dropped as constant: 2", output.ToString(), StringComparison.Ordinal);

        // Predictions at the truncation point, against the truth (capped as in training).
        var predicted = File.ReadAllLines(predictions).Skip(1).Select(l => l.Split(',')).ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
        Assert.Equal(truth.Keys.Order(), predicted.Keys.Order());
        var meanTruth = truth.Values.Average(v => Math.Min(v, 125));
        var modelError = truth.Average(t => Math.Abs(predicted[t.Key] - Math.Min(t.Value, 125)));
        var baselineError = truth.Values.Average(v => Math.Abs(meanTruth - Math.Min(v, 125)));
        Assert.True(modelError < baselineError * 0.6, $"prediction MAE {modelError:F1} vs constant-mean {baselineError:F1}");
    }

    [Fact]
    public void Training_IsDeterministic()
    {
        var train = Path.Combine(_dir, "train.csv");
        Generate(train, 30, seed: 3);
        var table = RunTable.Read(train, "engine", "cycle");
        var settings = new RulSettings { Cap = 125, Trees = 50 };

        var first = RulModel.Train(table, settings).Metrics;
        var second = RulModel.Train(table, settings).Metrics;

        Assert.Equal(first.Mae, second.Mae, 6);
        Assert.Equal(first.Rmse, second.Rmse, 6);
    }

    [Theory]
    [InlineData("engine,cycle,s1\ne1,1,0.5\ne1,2,0.7\ne2,1,0.1\ne2,2,x\n", "line 5, column 's1': 'x' is not a number")]
    [InlineData("engine,cycle,s1\ne1,1,0.5\ne1,2,0.7\ne2,1,0.1\n", "unit 'e2' has only one row")]
    [InlineData("unit,cycle,s1\ne1,1,0.5\n", "no column named 'engine'")]
    [InlineData("engine,cycle,s1\ne1,1,0.5,3\n", "line 2: 4 fields, but the header has 3")]
    [InlineData("", "the file is empty")]
    public async Task BadCsv_IsRejectedWithAClearMessage(string content, string expected)
    {
        var csv = Path.Combine(_dir, "bad.csv");
        await File.WriteAllTextAsync(csv, content);
        var error = new StringWriter();

        var code = await ModelCommands.RunAsync(["train-rul", "--csv", csv, "--unit", "engine", "--time", "cycle", "--out", Path.Combine(_dir, "m.zip")], new StringWriter(), error);

        Assert.Equal(2, code);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
    }
}

public sealed class FaultDetectionTests
{
    [Fact]
    public void OnAGeneratedFleet_SuddenFaultsAreCaughtWithin5Readings_AndHealthyDevicesStayQuiet()
    {
        // A fleet where the defective batch is a quarter of devices, so that enough faults occur in a fast test.
        var fleet = Telemetry.Models.Simulation.FleetGenerator.Create(500, seed: 404);

        var result = Telemetry.Models.Faults.FaultEvaluation.Run(fleet, TimeSpan.FromDays(150), new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

        Assert.True(result.SuddenFaults >= 15, $"only {result.SuddenFaults} sudden faults in the fleet");
        Assert.True(result.DetectionRate >= 0.9, $"detected {result.DetectedWithin5}/{result.SuddenFaults} within 5 readings");
        Assert.True(result.FalseAlertRate < 0.01, $"{result.HealthyFalseAlerts}/{result.HealthyDevices} healthy devices alerted");
        // Fading is gradual: a fade that began in the last weeks of the run may not be visible yet.
        Assert.True(result.FadeDetected >= 0.8 * result.FadeFaults, $"{result.FadeDetected}/{result.FadeFaults} fades detected");
    }

    [Fact]
    public void ASingleWildReading_DoesNotRaiseAnything()
    {
        var state = new Telemetry.Models.Faults.DeviceFaultState();
        for (var i = 0; i < 30; i++)
        {
            Assert.Null(state.ObserveShoe(10 + (0.3 * Math.Sin(i)), 220 + (5 * Math.Cos(i))));
        }

        Assert.Null(state.ObserveShoe(30, 400)); // one outlier
        Assert.Null(state.ObserveShoe(10, 220));
        Assert.Null(state.ObserveShoe(10.1, 221));
    }
}
