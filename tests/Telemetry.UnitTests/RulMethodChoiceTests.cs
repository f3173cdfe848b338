using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Telemetry.Models.Cli;
using Telemetry.Models.Rul;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// The fitted degradation curve (<see cref="LifeFit"/>) and how train-rul chooses a method when units are few:
/// the cases of a handful of battery cells, where a search of a hundred candidates on four units flatters itself.
/// </summary>
public sealed class RulMethodChoiceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rul-choice-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Three training units that wore linearly to their limit in 80, 100 and 120 cycles.</summary>
    private static DegradationCurve.Curve[] LinearPopulation() =>
        [.. new[] { 80, 100, 120 }.Select(life =>
        {
            var ages = Enumerable.Range(0, life + 1).Select(a => (double)a).ToArray();
            return new DegradationCurve.Curve(ages, [.. ages.Select(a => a / life)], life);
        })];

    [Fact]
    public void LifeFit_EarlyFollowsThePopulationsLives_LateTheUnitsOwnPace()
    {
        var population = LinearPopulation();
        var fit = LifeFit.From(population, evidence: 1);
        // A unit that wears half again as slowly as the slowest of them: its life is 180 cycles.
        var ages = Enumerable.Range(0, 180).Select(a => (double)a).ToArray();
        var progress = ages.Select(a => a / 180).ToArray();

        var estimates = fit.PredictAll(population, ages, progress);

        // New: nothing is known of it but the population, whose lives are 80 to 120.
        Assert.InRange(estimates[0].Rul, 80, 125);
        // Two thirds through its life its own pace has taken over: 60 to go, not the population's few.
        Assert.InRange(estimates[120].Rul, 50, 70);
        Assert.InRange(estimates[170].Rul, 5, 16);
        // The interval is the posterior's, and it holds the estimate.
        Assert.All(estimates, e => Assert.True(e.Low <= e.Rul && e.Rul <= e.High, $"{e.Low} .. {e.Rul} .. {e.High}"));
        Assert.True(estimates[0].High - estimates[0].Low > estimates[170].High - estimates[170].Low, "an old unit's interval is narrower than a new one's");
    }

    [Fact]
    public void LifeFit_WithNoEvidence_IsThePopulationsLifeLessTheAgeUsed()
    {
        var population = LinearPopulation();
        var fit = LifeFit.From(population, evidence: 1e-9);

        var estimates = fit.PredictAll(population, [0, 50, 90], [0.9, 0.9, 0.9]);
        var otherwise = fit.PredictAll(population, [0, 50, 90], [0.1, 0.1, 0.1]);

        // The progress is ignored: what remains is the population's life beyond the age (lives of about 100, each
        // possibly started a fifth of it later or earlier), never below zero.
        Assert.Equal(estimates.Select(e => Math.Round(e.Rul, 3)), otherwise.Select(e => Math.Round(e.Rul, 3)));
        Assert.InRange(estimates[0].Rul, 90, 110);
        Assert.InRange(estimates[1].Rul, 40, 65);
        Assert.InRange(estimates[2].Rul, 5, 40);
        Assert.Equal((0, 0, 0), fit.PredictAll(population, [10], [1])[0]);
    }

    [Fact]
    public void FourUnits_TheCurvesAreBlended_EachJudgedByNestedCrossValidation_AndTheRegressionIsNotTried()
    {
        var table = Cells(4, seed: 1);

        var (model, report) = RulTrainer.Train(table, new RulTrainingOptions { Life = LifeDefinition.Parse("capacity<80%", 1), Budget = TimeSpan.Zero });

        Assert.Equal(["curve", "curve fit", "curve blend"], report.MethodScores.Select(m => m.Name));
        Assert.All(report.MethodScores, m => Assert.True(double.IsFinite(m.Rmse) && m.Rmse > 0, $"{m.Name}: {m.Rmse}"));
        Assert.Equal("curve blend", report.Method);
        Assert.Equal("curve blend", model.Method);
        Assert.Contains("4 units are too few to choose between them", report.Selection, StringComparison.Ordinal);
        Assert.All(report.Candidates, c => Assert.Equal("curve blend", c.Method));
    }

    [Fact]
    public void TheBlend_IsTheMeanOfTheLookupAndTheFit_EstimateAndBandAlike()
    {
        var table = LifeDefinition.Parse("capacity<80%", 1).Apply(Cells(5, seed: 11)).Failed;
        var train = table.With(table.Units.Skip(1));
        var held = table.Units.Take(1).ToList();
        var column = table.ColumnIndex("capacity");
        var blend = DegradationCurve.Fit(train, column, -1, LifeDefinition.Parse("capacity<80%", 1), 3, evidence: 0.3, memory: 0.7, blend: true);
        var (lookup, fit) = CurveFitModels.LookupAndFitOf(blend);

        var (b, l, f) = (blend.PredictAll(held[0]), lookup.PredictAll(held[0]), fit.PredictAll(held[0]));

        Assert.True(blend.Blend);
        Assert.Contains(b.Select((e, i) => Math.Abs(l[i].Rul - f[i].Rul)), d => d > 1); // the two differ, so the mean is not either
        for (var i = 0; i < b.Length; i++)
        {
            Assert.Equal((l[i].Rul + f[i].Rul) / 2, b[i].Rul, 9);
            Assert.Equal((l[i].Low + f[i].Low) / 2, b[i].Low, 9);
            Assert.Equal((l[i].High + f[i].High) / 2, b[i].High, 9);
        }

        // A twin's single point is blended the same way; a blend needs a fit to blend.
        var at = blend.PredictAt(0.4, 30);
        Assert.Equal((lookup.PredictAt(0.4, 30).Rul + fit.PredictAt(0.4, 30).Rul) / 2, at.Rul, 9);
        Assert.False(new DegradationCurve(0, -1, null, 0, 1, [.. blend.Curves], null, blend: true).Blend);
    }

    [Fact]
    public void EightUnits_TheRegressionIsAmongTheMethodsJudged()
    {
        var report = RulTrainer.Train(Cells(8, seed: 2), new RulTrainingOptions { Life = LifeDefinition.Parse("capacity<80%", 1), Budget = TimeSpan.Zero, Start = new RulSettings { Trees = 20 } }).Report;

        Assert.Equal(["regression", "curve", "curve fit"], report.MethodScores.Select(m => m.Name));
    }

    [Fact]
    public void TwoUnits_UseTheBlend_AndSayWhy_WithoutScoringMethodsOnFoldsOfOneUnit()
    {
        var (model, report) = RulTrainer.Train(Cells(2, seed: 3), new RulTrainingOptions { Life = LifeDefinition.Parse("capacity<80%", 1), Budget = TimeSpan.Zero });

        Assert.Equal("curve blend", report.Method);
        Assert.Empty(report.MethodScores);
        Assert.Contains("2 units are too few to choose between them", report.Selection, StringComparison.Ordinal);
        var last = model.PredictLast(Cells(2, seed: 3));
        Assert.All(last, l => Assert.True(double.IsFinite(l.Estimate.Rul) && l.Estimate.Low <= l.Estimate.Rul && l.Estimate.Rul <= l.Estimate.High));
    }

    [Fact]
    public void ASearchThatHasTriedEverySetting_Ends_WithoutScoringAnyTwice()
    {
        var report = RulTrainer.Train(Cells(4, seed: 4), new RulTrainingOptions { Life = LifeDefinition.Parse("capacity<80%", 1), Budget = TimeSpan.FromHours(1), Methods = ["curve"] }).Report;

        // The lookup has four settings (its rolling median): all tried once, and the hour's budget not waited out.
        Assert.Equal(4, report.Candidates.Count);
        Assert.Equal(4, report.Candidates.Select(c => c.Settings).Distinct().Count());
    }

    [Theory]
    [InlineData("curve-fit", "curve fit")]
    [InlineData("curve-blend", "curve blend")]
    [InlineData("regression", "regression")]
    public async Task MethodOption_TrainsOnlyThatMethod(string option, string method)
    {
        var csv = WriteCells(4, seed: 5);
        var output = new StringWriter();

        Assert.Equal(0, await ModelCommands.RunAsync(["train-rul", "--csv", csv, "--unit", "cell", "--time", "cycle", "--out", Path.Combine(_dir, "m.zip"), "--end-when", "capacity<80%", "--budget", "0", "--trees", "20", "--method", option], output, new StringWriter()));

        Assert.Contains($"method: {method} (", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("chosen by the lowest cross-validated RMSE", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MethodOption_Unknown_IsAUsageError()
    {
        var error = new StringWriter();

        Assert.Equal(2, await ModelCommands.RunAsync(["train-rul", "--csv", WriteCells(3, seed: 6), "--unit", "cell", "--time", "cycle", "--out", Path.Combine(_dir, "m.zip"), "--method", "neural"], new StringWriter(), error));
        Assert.Contains("neural", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void CurveFitModel_SavedAndLoaded_PredictsTheSame_AndABrokenFitIsRefused()
    {
        var table = LifeDefinition.Parse("capacity<80%", 1).Apply(Cells(5, seed: 7)).Failed;
        var curve = DegradationCurve.Fit(table, table.ColumnIndex("capacity"), -1, LifeDefinition.Parse("capacity<80%", 1), 3, evidence: 3, memory: 0.7);
        var model = RulModel.FitCurve(table, curve, null).WithInterval(-5, 5);
        var path = Path.Combine(_dir, "fit.zip");

        model.Save(path);
        var loaded = RulModel.Load(path);

        Assert.Equal(curve.Fitted, loaded.Curve!.Fitted);
        Assert.Equal(model.PredictRows(table, table.Units), loaded.PredictRows(table, table.Units));

        Assert.Equal(LifeFit.DefaultShift, loaded.Curve.Fitted!.Shift);

        // A fit written before shifts (no Shift in the file) scores without one, as it did.
        Tamper(path, root => root["Curve"]!["Fitted"]!.AsObject().Remove("Shift"));
        var unshifted = RulModel.Load(path);
        Assert.Equal(0, unshifted.Curve!.Fitted!.Shift);
        Assert.Equal(
            RulModel.FitCurve(table, new DegradationCurve(curve.Column, curve.Direction, curve.Life, curve.EndOffset, curve.Smooth, [.. curve.Curves], curve.Fitted! with { Shift = 0 }), null).PredictRows(table, table.Units),
            unshifted.PredictRows(table, table.Units));
        Assert.NotEqual(model.PredictRows(table, table.Units), unshifted.PredictRows(table, table.Units));

        foreach (var (field, value) in new[] { ("Spread", 0.0), ("Shift", 0.9), ("Shift", -0.1) })
        {
            model.Save(path);
            Tamper(path, root => root["Curve"]!["Fitted"]![field] = value);
            var refused = Assert.Throws<RunTableException>(() => RulModel.Load(path));
            Assert.Equal($"{path}: its telemetry-rul.json has a curve fit that cannot be scored.", refused.Message);
        }

        model.WithOwnBand(1e300).Save(path);
        Assert.Equal($"{path}: its telemetry-rul.json has a band margin that cannot be served.", Assert.Throws<RunTableException>(() => RulModel.Load(path)).Message);

        // Format 4 since the blend (3 since the shift and the margin): a reader of an older format would ignore them,
        // so a newer file is refused by name; a format-2 or format-3 file still loads.
        model.WithOwnBand(0).Save(path);
        Tamper(path, root => root["Version"] = 5);
        Assert.Equal($"{path} was written by a newer train-rul (format 5; this one reads up to 4).", Assert.Throws<RunTableException>(() => RulModel.Load(path)).Message);
        foreach (var version in new[] { 2, 3 })
        {
            Tamper(path, root => root["Version"] = version);
            Assert.Equal(model.PredictRows(table, table.Units), RulModel.Load(path).PredictRows(table, table.Units));
        }
    }

    [Fact]
    public void ABlendModel_SavedAndLoaded_PredictsTheSame_AFitWithoutTheFlagIsNoBlend_AndABlendWithoutAFitIsRefused()
    {
        var life = LifeDefinition.Parse("capacity<80%", 1);
        var table = life.Apply(Cells(5, seed: 9)).Failed;
        var curve = DegradationCurve.Fit(table, table.ColumnIndex("capacity"), -1, life, 3, evidence: 0.3, memory: 0.7, blend: true);
        var model = RulModel.FitCurve(table, curve, null).WithInterval(-5, 5);
        var path = Path.Combine(_dir, "blend.zip");

        model.Save(path);
        var loaded = RulModel.Load(path);

        Assert.Equal("curve blend", loaded.Method);
        Assert.Equal(model.PredictRows(table, table.Units), loaded.PredictRows(table, table.Units));

        // A fit written before the blend (no Blend in the file) is the fit alone, as it was.
        Tamper(path, root => root["Curve"]!.AsObject().Remove("Blend"));
        var fit = RulModel.Load(path);
        Assert.Equal("curve fit", fit.Method);
        Assert.NotEqual(model.PredictRows(table, table.Units), fit.PredictRows(table, table.Units));

        model.Save(path);
        Tamper(path, root => root["Curve"]!.AsObject().Remove("Fitted"));
        Assert.Equal($"{path}: its telemetry-rul.json blends a curve fit that it does not have.", Assert.Throws<RunTableException>(() => RulModel.Load(path)).Message);
    }

    private static void Tamper(string path, Action<JsonNode> change) => RulModelFile.Rewrite(path, change);

    [Fact]
    public void AnOwnBandWithAMargin_UnderACap_IsServedAsTrainingJudgedIt_TheMarginOnTheCappedBand()
    {
        var life = LifeDefinition.Parse("capacity<80%", 1);
        var table = life.Apply(Cells(5, seed: 12)).Failed;
        var curve = DegradationCurve.Fit(table, table.ColumnIndex("capacity"), -1, life, 3, evidence: 0.3, memory: 0.7, blend: true);
        const double Cap = 10, Margin = 4;
        var model = RulModel.FitCurve(table, curve, Cap).WithOwnBand(Margin);
        // Every unit cut after each of its first rows, where much is left: the raw band lies above the cap.
        var early = table.With(table.Units.SelectMany(u => Enumerable.Range(1, 20).Select(k =>
            new RunTable.Unit($"{u.Id}@{k}", u.Times[..k], u.Values[..k]))));

        var served = model.PredictLast(early);

        // The last row of each cut unit, as PredictRows gives it (capped) and as CalibrateBand widened it.
        var lasts = early.Units.Select(u => model.PredictRows(early, [u])[^1]).ToList();
        Assert.Contains(early.Units, u => curve.PredictAll(u)[^1].Low - Margin > Cap);
        for (var i = 0; i < lasts.Count; i++)
        {
            Assert.Equal(Math.Max(0, Math.Min(lasts[i].Rul, lasts[i].Low - Margin)), served[i].Estimate.Low, 9);
            Assert.Equal(Math.Min(Cap, Math.Max(lasts[i].Rul, lasts[i].High + Margin)), served[i].Estimate.High, 9);
        }
    }

    [Fact]
    public void ACurveModelServingItsOwnBand_SavedAndLoaded_GivesTheCurvesBand_AndARegressionHasNone()
    {
        var life = LifeDefinition.Parse("capacity<80%", 1);
        var table = life.Apply(Cells(5, seed: 8)).Failed;
        var curve = DegradationCurve.Fit(table, table.ColumnIndex("capacity"), -1, life, 1, evidence: 0.3, memory: 0.7);
        var path = Path.Combine(_dir, "band.zip");

        RulModel.FitCurve(table, curve, null).WithInterval(-1000, 1000).WithOwnBand().Save(path);
        var loaded = RulModel.Load(path);

        Assert.True(loaded.OwnBand);
        foreach (var (unit, estimate) in loaded.PredictLast(table))
        {
            var own = curve.PredictAll(table.Units.Single(u => u.Id == unit))[^1];
            Assert.Equal((Math.Max(0, own.Rul), Math.Max(0, own.Low), Math.Max(0, own.High)), (estimate.Rul, estimate.Low, estimate.High));
        }

        // With its conformal margin: each side moved by it, never past the estimate.
        foreach (var margin in new[] { 7.5, -3.0 })
        {
            RulModel.FitCurve(table, curve, null).WithInterval(-1000, 1000).WithOwnBand(margin).Save(path);
            var widened = RulModel.Load(path);
            Assert.Equal(margin, widened.BandMargin);
            foreach (var (unit, estimate) in widened.PredictLast(table))
            {
                var own = curve.PredictAll(table.Units.Single(u => u.Id == unit))[^1];
                Assert.Equal(Math.Max(0, Math.Min(own.Rul, own.Low - margin)), estimate.Low, 9);
                Assert.Equal(Math.Max(0, Math.Max(own.Rul, own.High + margin)), estimate.High, 9);
            }
        }

        var settings = new RulSettings { Trees = 20 };
        Assert.False(RulModel.FitRegression(table, WindowFeatures.Fit(table, ColumnScreen.Score(table), 5, 0, 0, 1), settings).WithOwnBand().OwnBand);
    }

    [Theory]
    [InlineData(4, 11)]
    [InlineData(4, 12)]
    [InlineData(6, 13)]
    public void TheIntervalServed_IsTheOneWhoseHeldOutCoverageIsNearerTheEightyPercentItNames(int cells, int seed)
    {
        var (model, report) = RulTrainer.Train(Cells(cells, seed), new RulTrainingOptions { Life = LifeDefinition.Parse("capacity<80%", 1), Budget = TimeSpan.Zero, Methods = ["curve fit"] });

        Assert.NotNull(report.RawCoverage);
        var band = Assert.NotNull(report.BandCoverage);
        Assert.Equal(Math.Abs(band - 0.8) < Math.Abs(report.Coverage - 0.8), report.OwnBand);
        Assert.Equal(report.OwnBand, model.OwnBand);
        Assert.Equal(report.OwnBand ? report.BandMargin : 0, model.BandMargin);
    }

    /// <summary>Cells whose capacity fades from about 1.1 slowly, then faster, each at its own pace, with cycle-to-cycle noise.</summary>
    private static string Csv(int cells, int seed)
    {
        var random = new Random(seed);
        var csv = new System.Text.StringBuilder("cell,cycle,capacity,temperature\n");
        for (var c = 0; c < cells; c++)
        {
            var life = 300 + random.Next(200);
            var start = 1.08 + (0.04 * random.NextDouble());
            for (var t = 0; t < life * 1.1; t++)
            {
                var x = (double)t / life;
                var fade = 0.2 * ((0.6 * x) + (0.4 * x * x * x));
                var capacity = start * (1 - fade) + (0.004 * (random.NextDouble() - 0.5));
                csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"c{c},{t},{capacity:F5},{25 + random.NextDouble():F2}\n");
            }
        }

        return csv.ToString();
    }

    private string WriteCells(int cells, int seed)
    {
        var path = Path.Combine(_dir, $"cells-{cells}-{seed}.csv");
        File.WriteAllText(path, Csv(cells, seed));
        return path;
    }

    private RunTable Cells(int cells, int seed) => RunTable.Read(WriteCells(cells, seed), "cell", "cycle");
}
