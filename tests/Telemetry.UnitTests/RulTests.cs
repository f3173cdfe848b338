using System.Globalization;
using System.Text;
using Telemetry.Models.Cli;
using Telemetry.Models.Learning;
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
    public async Task TrainThenPredict_BeatsBothNaiveAnswers_OnCrossValidationAndOnUnseenUnits()
    {
        var train = Path.Combine(_dir, "train.csv");
        var test = Path.Combine(_dir, "test.csv");
        var model = Path.Combine(_dir, "model.zip");
        var predictions = Path.Combine(_dir, "predictions.csv");
        Generate(train, 60, seed: 1);
        var truth = Generate(test, 30, seed: 2, truncate: true);
        var output = new StringWriter();

        Assert.Equal(0, await ModelCommands.RunAsync(["train-rul", "--csv", train, "--unit", "engine", "--time", "cycle", "--out", model, "--cap", "125", "--trees", "100", "--budget", "0", "--require-better"], output, new StringWriter()));
        Assert.Equal(0, await ModelCommands.RunAsync(["predict-rul", "--model", model, "--csv", test, "--unit", "engine", "--time", "cycle", "--out", predictions], new StringWriter(), new StringWriter()));

        // The cross-validated table: the model as chosen, the whole search judged from outside (--require-better
        // implies --nested), then the two naive answers on the same folds.
        var table = ReportRows(output.ToString());
        Assert.Equal(4, table.Count);
        var best = Math.Min(table[2].Rmse, table[3].Rmse);
        Assert.True(table[1].Rmse < best * 0.7, $"nested cross-validated RMSE {table[1].Rmse} vs the best naive answer's {best}");
        Assert.Contains("cross-validation: 5 folds of whole units, 60 units", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("verdict: the model beats both naive answers", output.ToString(), StringComparison.Ordinal);
        // Lives of 120–360 cycles capped at 125: early in a life every answer is about the cap, the naive one included;
        // from 40% of life, where wear accelerates, the model does better.
        var stages = output.ToString().Split('\n').Single(l => l.StartsWith("the model is no better than mean life minus age at ", StringComparison.Ordinal) || l.StartsWith("the model beats", StringComparison.Ordinal));
        Assert.DoesNotContain("40–60%", stages, StringComparison.Ordinal);
        Assert.DoesNotContain("60–80%", stages, StringComparison.Ordinal);
        Assert.DoesNotContain("80–100%", stages, StringComparison.Ordinal);

        // Predictions at the truncation point, against the truth (capped as in training), with an interval around each.
        var predicted = File.ReadAllLines(predictions).Skip(1).Select(l => l.Split(',')).ToDictionary(p => p[0], p => p[1..].Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray());
        Assert.Equal("unit,rul,p10,p90", File.ReadLines(predictions).First());
        Assert.Equal(truth.Keys.Order(), predicted.Keys.Order());
        Assert.All(predicted.Values, p => Assert.True(p[1] <= p[0] && p[0] <= p[2], $"interval {p[1]}..{p[2]} around {p[0]}"));
        var meanTruth = truth.Values.Average(v => Math.Min(v, 125));
        var modelError = truth.Average(t => Math.Abs(predicted[t.Key][0] - Math.Min(t.Value, 125)));
        var baselineError = truth.Values.Average(v => Math.Abs(meanTruth - Math.Min(v, 125)));
        Assert.True(modelError < baselineError * 0.6, $"prediction MAE {modelError:F1} vs constant-mean {baselineError:F1}");
    }

    [Fact]
    public void Training_IsDeterministic_AndItsIntervalCoversWhatItSays()
    {
        var train = Path.Combine(_dir, "train.csv");
        Generate(train, 30, seed: 3);
        var table = RunTable.Read(train, "engine", "cycle");
        var options = new RulTrainingOptions { Start = new RulSettings { Cap = 125, Trees = 50 }, MaxCandidates = 3, Budget = TimeSpan.FromMinutes(10) };

        var first = RulTrainer.Train(table, options).Report;
        var second = RulTrainer.Train(table, options).Report;

        Assert.Equal(first.Model.Rmse, second.Model.Rmse, 6);
        Assert.Equal(first.Candidates.Select(c => c.Settings), second.Candidates.Select(c => c.Settings));
        Assert.Equal(3, first.Candidates.Count);
        // Conformal: each fold judged by the other folds' errors lands near the 80% the interval names.
        Assert.InRange(first.Coverage, 0.7, 0.9);
    }

    [Fact]
    public async Task AModelNoBetterThanTheNaiveAnswer_IsWarnedAbout_AndRequireBetterRefusesIt()
    {
        // Every unit lives exactly 100 cycles and its sensors are noise: 'mean life minus age' is exact, nothing beats it.
        var csv = new StringBuilder("unit,cycle,a,b\n");
        var random = new Random(5);
        for (var u = 0; u < 12; u++)
        {
            for (var t = 1; t <= 100; t++)
            {
                csv.Append(CultureInfo.InvariantCulture, $"u{u},{t},{random.NextDouble():F4},{random.NextDouble() * 10:F4}\n");
            }
        }

        var path = Path.Combine(_dir, "flat.csv");
        var model = Path.Combine(_dir, "flat.zip");
        await File.WriteAllTextAsync(path, csv.ToString());
        string[] args = ["train-rul", "--csv", path, "--unit", "unit", "--time", "cycle", "--out", model, "--trees", "20", "--budget", "0"];
        var (output, error) = (new StringWriter(), new StringWriter());

        Assert.Equal(0, await ModelCommands.RunAsync(args, output, error));
        Assert.Contains("WARNING: the model does NOT beat the naive answers", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("verdict: the model does NOT beat the naive answers", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, ReportRows(output.ToString())[1].Rmse, 6);
        // Exact at every age: no stage of life where the model does better.
        Assert.Contains("| mean life minus age | 0.0 % | 0.0 % | 0.0 % | 0.0 % | 0.0 % |", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("the model is no better than mean life minus age at 0–20%, 20–40%, 40–60%, 60–80%, 80–100% of life", output.ToString(), StringComparison.Ordinal);
        File.Delete(model);

        error = new StringWriter();
        Assert.Equal(1, await ModelCommands.RunAsync([.. args, "--require-better"], new StringWriter(), error));
        Assert.Contains($"--require-better: no model written to {model}.", error.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(model));
    }

    [Fact]
    public async Task EndWhen_EndsEachLifeWhereTheIndicatorCrosses_AndLeavesOutUnitsThatNeverDo()
    {
        // One file per cell, no unit column: capacity falls 1% of its start per cycle; c3 falls half as fast and never reaches 80%.
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "cells")).FullName;
        var starts = new[] { 2.0, 1.8, 1.9, 2.1 };
        for (var c = 0; c < starts.Length; c++)
        {
            var csv = new StringBuilder("cycle,capacity,temp\n");
            var rate = c == 3 ? 0.005 : 0.01 * (1 + (0.1 * c));
            for (var t = 1; t <= 40; t++)
            {
                csv.Append(CultureInfo.InvariantCulture, $"{t},{starts[c] * (1 - (rate * (t - 1))):F5},{30 + (t % 3)}\n");
            }

            await File.WriteAllTextAsync(Path.Combine(dir, $"c{c}.csv"), csv.ToString());
        }

        var table = RunTable.Read([dir], null, "cycle");
        var life = LifeDefinition.Parse("capacity<80%", smooth: 3);
        var (failed, censored, _) = life.Apply(table);

        Assert.Equal(["c0", "c1", "c2", "c3"], table.Units.Select(u => u.Id));
        Assert.Equal(["c3"], censored.Select(u => u.Id));
        // c0's reference is the median of its first 5 cycles (cycle 3: 1.96); 80% of it is 1.568, first passed on cycle
        // 23 (1.56): its life ends there, its later rows are gone.
        Assert.Equal(23, failed.Units.Single(u => u.Id == "c0").Times[^1]);
        Assert.True(failed.Units.Single(u => u.Id == "c2").Times[^1] < failed.Units.Single(u => u.Id == "c0").Times[^1]);

        var output = new StringWriter();
        Assert.Equal(0, await ModelCommands.RunAsync(["train-rul", "--csv", dir, "--time", "cycle", "--out", Path.Combine(_dir, "cells.zip"), "--end-when", "capacity<80%", "--smooth", "3", "--budget", "0", "--trees", "20"], output, new StringWriter()));
        Assert.Contains("end of life: capacity<80% (rolling median of 3)", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("left out as censored (never reach the end of life): 1 units (c3)", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("health indicator: capacity", output.ToString(), StringComparison.Ordinal);
        // Capacity falls without noise from the first cycle, each cell at its own pace: the curves read that pace from the start.
        Assert.Contains("the model beats mean life minus age at every stage of life", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ErrorByStageOfLife_IsEachUnitsErrorInEachFifthOfItsLife_AveragedOverUnits()
    {
        // Two units, lives 20 and 40, one per fold: mean life minus age is each one's life answered for the other.
        // u20 (told 40 − age) is 20 off at every row: 100% of its life in every fifth. u40 (told 20 − age, never below
        // 0) is 20 off up to age 20, then 40 − age: 50%, 50%, (5 × 20 + 19 + 18 + 17) / 8 / 40, (16 + … + 9) / 8 / 40,
        // (8 + … + 0) / 9 / 40 of its life by fifth (ages 0–7, 8–15, 16–23, 24–31, 32–40). u40's cycles start at 100:
        // ages count from a unit's first row.
        var csv = new StringBuilder("unit,cycle,wear\n");
        foreach (var (life, first) in new[] { (20, 0), (40, 100) })
        {
            for (var t = 0; t <= life; t++)
            {
                csv.Append(CultureInfo.InvariantCulture, $"u{life},{first + t},{(double)t / life:F4}\n");
            }
        }

        var path = Path.Combine(_dir, "stages.csv");
        File.WriteAllText(path, csv.ToString());
        var report = RulTrainer.Train(RunTable.Read(path, "unit", "cycle"), new RulTrainingOptions { Budget = TimeSpan.Zero }).Report;

        double[] expected = [(1 + 0.5) / 2, (1 + 0.5) / 2, (1 + (154.0 / 8 / 40)) / 2, (1 + (100.0 / 8 / 40)) / 2, (1 + (36.0 / 9 / 40)) / 2];
        Assert.Equal(RulScore.Stages, report.MeanLifeBaseline.ByStage.Count);
        Assert.All(expected.Zip(report.MeanLifeBaseline.ByStage), p => Assert.Equal(p.First, p.Second, 9));
        // Every stage of the model and of the other baseline is measured too, and a stage's rows are each unit's own.
        Assert.All(report.Model.ByStage.Concat(report.ExtrapolationBaseline.ByStage), v => Assert.True(double.IsFinite(v) && v >= 0, $"{v}"));
        Assert.Equal(((20.0 / 20) + (((21 * 20.0) + (19 * 20 / 2.0)) / 41 / 40)) / 2, report.MeanLifeBaseline.MeanLifeError, 9);
    }

    [Theory]
    [InlineData(0, 100, 0)]
    [InlineData(19.99, 100, 0)]
    [InlineData(20, 100, 1)]
    [InlineData(99, 100, 4)]
    [InlineData(100, 100, 4)]
    [InlineData(150, 100, 4)]
    [InlineData(-1, 100, 0)]
    [InlineData(5, 0, 0)]
    [InlineData(double.NaN, 100, 0)]
    public void StageOf_IsTheFifthOfItsLifeARowIsIn_TheLastRowInTheLast(double age, double life, int stage) =>
        Assert.Equal(stage, RulTrainer.StageOf(age, life));

    [Theory]
    [InlineData("capacity=3", "is not of the form COLUMN<VALUE or COLUMN>VALUE")]
    [InlineData("capacity<low", "'low' is not a number")]
    [InlineData("<3", "is not of the form")]
    [InlineData("capacity<0%", "a relative limit must be above 0%")]
    [InlineData("voltage<3", "no numeric column named 'voltage'. The columns are: s1")]
    public async Task EndWhen_ThatCannotBeUsed_IsRefusedWithTheReason(string endWhen, string expected)
    {
        var csv = Path.Combine(_dir, "small.csv");
        await File.WriteAllTextAsync(csv, "engine,cycle,s1\ne1,1,0.5\ne1,2,0.7\ne2,1,0.1\ne2,2,0.3\n");
        var error = new StringWriter();

        var code = await ModelCommands.RunAsync(["train-rul", "--csv", csv, "--unit", "engine", "--time", "cycle", "--out", Path.Combine(_dir, "m.zip"), "--end-when", endWhen], new StringWriter(), error);

        Assert.Equal(2, code);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ColumnScreen_KeepsWhatTrendsWithAge_AndDropsSettingsNoiseAndConstants()
    {
        var train = Path.Combine(_dir, "train.csv");
        Generate(train, 20, seed: 4);
        var scores = ColumnScreen.Score(RunTable.Read(train, "engine", "cycle")).ToDictionary(s => s.Name);

        Assert.True(scores["const_a"].NearConstant && scores["const_b"].NearConstant);
        foreach (var noise in new[] { "op1", "op2", "noise" })
        {
            Assert.True(scores[noise].Trendability < 0.1, $"{noise}: {scores[noise].Trendability}");
        }

        foreach (var sensor in new[] { "s1", "s2", "s3", "s4" })
        {
            // s1 and s4 drift by about their own noise over a life: the screen smooths before it correlates.
            Assert.True(scores[sensor].Trendability > 0.3, $"{sensor}: {scores[sensor].Trendability}");
        }

        Assert.Equal(-1, scores["s4"].Direction);
        Assert.Equal(1, scores["s2"].Direction);
    }

    [Fact]
    public void DegradationCurve_FollowsThePopulation_ScaledByTheUnitsOwnPace()
    {
        // Three units that wore linearly to their limit in 100 cycles.
        var ages = Enumerable.Range(0, 101).Select(a => (double)a).ToArray();
        var curves = Enumerable.Range(0, 3).Select(_ => new DegradationCurve.Curve(ages, [.. ages.Select(a => a / 100)], 100)).ToArray();
        var curve = new DegradationCurve(0, -1, null, 0, 1, curves);

        Assert.Equal(50, curve.PredictAt(0.5, 50).Rul, 6);
        // Half-way at twice the age: it wears half as fast, so it has about twice as long to go.
        Assert.InRange(curve.PredictAt(0.5, 100).Rul, 95, 100);
        // New and unworn at 30 cycles: the population's life, less the age it has already used.
        Assert.Equal(70, curve.PredictAt(0, 30).Rul, 6);
        Assert.Equal(0, curve.PredictAt(1, 120).Rul);
        Assert.Equal(0.5, WearCurve.Progress("band", 90), 6);
        Assert.Equal(1, WearCurve.Progress("shoe", 55), 6);
    }

    [Fact]
    public void CurveModel_SavedAndLoaded_PredictsTheSame()
    {
        var train = Path.Combine(_dir, "train.csv");
        Generate(train, 20, seed: 6);
        var table = RunTable.Read(train, "engine", "cycle");
        var curve = DegradationCurve.Fit(table, table.ColumnIndex("s2"), 1, null, 5);
        var model = RulModel.FitCurve(table, curve, 125).WithInterval(-10, 12);
        var path = Path.Combine(_dir, "curve.zip");

        model.Save(path);
        var loaded = RulModel.Load(path);

        Assert.Equal("curve", loaded.Method);
        Assert.Equal(model.PredictLast(table), loaded.PredictLast(table));
        Assert.All(loaded.PredictLast(table), p => Assert.Equal(Math.Max(0, p.Estimate.Rul - 10), p.Estimate.Low, 6));
    }

    [Fact]
    public async Task FilesWithDifferentColumns_AreRefused_NamingBoth()
    {
        var a = Path.Combine(_dir, "a.csv");
        var b = Path.Combine(_dir, "b.csv");
        await File.WriteAllTextAsync(a, "cycle,x\n1,1\n2,2\n");
        await File.WriteAllTextAsync(b, "cycle,y\n1,1\n2,2\n");
        var error = new StringWriter();

        Assert.Equal(2, await ModelCommands.RunAsync(["train-rul", "--csv", a, b, "--time", "cycle", "--out", Path.Combine(_dir, "m.zip")], new StringWriter(), error));
        Assert.Contains($"{b}: its columns (y) are not those of {a} (x).", error.ToString(), StringComparison.Ordinal);
    }

    /// <summary>The RMSE column of the report's first table: the model first, then the two naive answers.</summary>
    private static List<(string Name, double Rmse)> ReportRows(string output) =>
        [.. output.Split('\n').SkipWhile(l => !l.StartsWith("| predictor", StringComparison.Ordinal)).Skip(2).TakeWhile(l => l.StartsWith("| ", StringComparison.Ordinal))
            .Select(l => l.Split('|', StringSplitOptions.TrimEntries)).Select(c => (c[1], double.Parse(c[2], CultureInfo.InvariantCulture)))];

    [Fact]
    public async Task Nested_JudgesTheWholeSearch_AndTheVerdictUsesIt()
    {
        var train = Path.Combine(_dir, "train.csv");
        Generate(train, 15, seed: 8);
        var output = new StringWriter();

        Assert.Equal(0, await ModelCommands.RunAsync(["train-rul", "--csv", train, "--unit", "engine", "--time", "cycle", "--out", Path.Combine(_dir, "n.zip"), "--cap", "125", "--trees", "50", "--candidates", "3", "--folds", "3", "--nested"], output, new StringWriter()));

        var rows = ReportRows(output.ToString());
        Assert.Equal(4, rows.Count);
        Assert.StartsWith("model: ", rows[0].Name, StringComparison.Ordinal);
        Assert.Contains("as chosen (optimistic)", rows[0].Name, StringComparison.Ordinal);
        Assert.StartsWith("**model, nested: ", rows[1].Name, StringComparison.Ordinal);
        // The stages are given for the score the verdict judges: the nested one.
        var stageTable = output.ToString().Split('\n').SkipWhile(l => !l.StartsWith("error by stage of life", StringComparison.Ordinal)).ToList();
        Assert.StartsWith("| **model, nested: ", stageTable[4], StringComparison.Ordinal);
        Assert.True(rows[1].Rmse < Math.Min(rows[2].Rmse, rows[3].Rmse), $"nested {rows[1].Rmse} vs the naive answers {rows[2].Rmse}, {rows[3].Rmse}");
        // The search tried several values of a setting: its table of choices says what each did.
        Assert.Contains("| setting | value | best RMSE with it | candidates |", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SimulateRuns_WritesHistoriesThatEndAtTheDevicesTrueEndOfLife_AndTrainRulReadsThem()
    {
        var csv = Path.Combine(_dir, "bands.csv");
        var error = new StringWriter();

        Assert.Equal(0, await ModelCommands.RunAsync(["simulate-runs", "--kind", "band", "--devices", "12", "--out", csv], new StringWriter(), error));

        var table = RunTable.Read(csv, "device", "cycles");
        Assert.Contains("run-to-failure histories", error.ToString(), StringComparison.Ordinal);
        Assert.InRange(table.Units.Count, 6, 12);
        var capacity = table.ColumnIndex("capacity_mah");
        var rated = table.ColumnIndex("rated_mah");
        // Each history ends where the band's capacity has faded to about 80% of its rating (noise of ~1%, a week of charging).
        Assert.All(table.Units, u => Assert.InRange(u.Values[^1][capacity] / u.Values[^1][rated], 0.74, 0.82));
        Assert.Equal(0, await ModelCommands.RunAsync(["train-rul", "--csv", csv, "--unit", "device", "--time", "cycles", "--out", Path.Combine(_dir, "b.zip"), "--budget", "0", "--trees", "20"], new StringWriter(), new StringWriter()));
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
