using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Telemetry.Models.Rul;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// Hostile input for train-rul's fitted degradation curve (<see cref="LifeFit"/>) and its choice of method when units
/// are few (#15 review): degenerate units, wildly different lives, extreme times and values, the --method, --nested
/// and --candidates options at their edges, and model files whose curve fit was tampered with. Every bad input must
/// end with exit code 2 and a one-line message, never a stack trace; every prediction must be finite, non-negative
/// and inside its own interval. Tests skipped with "bug:" show a failure of the code as committed.
/// </summary>
public sealed partial class RulFitAttackTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rul-fit-attack-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ---- --method and the choice of method at its edges ----

    [Theory]
    [InlineData("curve-fit", "curve fit")]
    [InlineData("curve", "curve")]
    public async Task Curve_TwoUnits_WithoutEndWhen_TrainsAndPredictsSaneValues(string option, string method)
    {
        var csv = WriteUnits("runs.csv", [30, 40]);

        var (code, output, error) = await TrainAsync(csv, "--method", option);
        var predictions = await PredictValidAsync(csv);

        Assert.Equal(0, code);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Contains($"method: {method} (", output, StringComparison.Ordinal);
        Assert.Contains("end of life: each unit's last row", output, StringComparison.Ordinal);
        Assert.Equal(2, predictions.Count);
    }

    [Fact]
    public async Task Regression_AskedFor_OnTwoUnits_IsTrained_AsAsked()
    {
        var csv = WriteUnits("runs.csv", [30, 40]);

        var (code, output, error) = await TrainAsync(csv, "--method", "regression", "--candidates", "1");

        Assert.Equal(0, code);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Contains("method: regression (", output, StringComparison.Ordinal);
        Assert.Equal(2, (await PredictValidAsync(csv)).Count);
    }

    [Fact]
    public async Task Nested_ThreeUnits_JudgesTheWholeSearch()
    {
        var csv = WriteUnits("runs.csv", [30, 40, 50]);

        var (code, output, error) = await TrainAsync(csv, "--nested");

        Assert.Equal(0, code);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Contains("| **model, nested: ", output, StringComparison.Ordinal);
        Assert.Contains("as chosen (optimistic)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nested_FourUnits_NestsTheChoiceOfMethodInsideEachFold()
    {
        var csv = WriteUnits("runs.csv", [30, 40, 50, 35]);

        var (code, output, error) = await TrainAsync(csv, "--nested", "--candidates", "2");

        Assert.True(code is 0, error);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Equal(4, Regex.Count(error, @"nested fold \d/4: chose curve blend \("));
        Assert.Contains("| **model, nested: ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OneCandidate_OnFourUnits_BlendsTheCurves_AndTheReportAgreesWithItself()
    {
        var csv = WriteUnits("runs.csv", [30, 40, 50, 35]);

        var (code, output, _) = await TrainAsync(csv, "--candidates", "1");

        Assert.Equal(0, code);
        var method = MethodLine().Match(output);
        Assert.True(method.Success, output);
        var chosen = method.Groups["method"].Value;
        Assert.Equal("1", method.Groups["count"].Value);
        Assert.Equal("curve blend", chosen);
        // The selection names the same method, and the curves and their blend (not the regression, from 5 units) were judged.
        Assert.Contains($"method: {chosen}, the lookup and the fit averaged, not chosen between (4 units are too few", output, StringComparison.Ordinal);
        Assert.Contains("| curve | ", output, StringComparison.Ordinal);
        Assert.Contains("| curve fit | ", output, StringComparison.Ordinal);
        Assert.Contains("| curve blend | ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("| regression | ", output, StringComparison.Ordinal);
        Assert.Contains($"| **model: {chosen}** |", output, StringComparison.Ordinal);
    }

    [Fact]
    public void OneCandidate_OnFourUnits_TheOneCandidateIsOfTheChosenMethod()
    {
        var table = RunTable.Read(WriteUnits("runs.csv", [30, 40, 50, 35]), "unit", "t");

        var report = RulTrainer.Train(table, new RulTrainingOptions { Budget = TimeSpan.Zero, MaxCandidates = 1, Start = new RulSettings { Trees = 20 } }).Report;

        var single = Assert.Single(report.Candidates);
        Assert.Equal(report.Method, single.Method);
        Assert.Equal(3, report.MethodScores.Count);
        Assert.StartsWith($"method: {report.Method}, the lookup and the fit averaged, not chosen between (4 units", report.Selection, StringComparison.Ordinal);
    }

    [Fact]
    public void TwoFolds_OnTenUnits_TheReasonGivenForTheCurveIsTheFolds_NotTheUnits()
    {
        var table = RunTable.Read(WriteUnits("runs.csv", [30, 40, 50, 35, 45, 55, 32, 42, 52, 38]), "unit", "t");

        var report = RulTrainer.Train(table, new RulTrainingOptions { Budget = TimeSpan.Zero, Folds = 2, Start = new RulSettings { Trees = 20 } }).Report;

        Assert.DoesNotContain("10 units cannot judge", report.Selection, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CurveFit_Nested_OnThreeUnits_NestsTheFitOnly()
    {
        var csv = WriteUnits("runs.csv", [30, 40, 50]);

        var (code, output, error) = await TrainAsync(csv, "--method", "curve-fit", "--nested");

        Assert.True(code == 0, error);
        Assert.Contains("| **model, nested: curve fit ×3** |", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CurveFit_RequireBetter_ThatItDoesNotBeat_WritesNoModel()
    {
        // Lives alike and an indicator that is noise: nothing beats the mean life.
        var csv = WriteUnits("runs.csv", [40, 40, 40, 40], flat: _ => true);

        var (code, _, error) = await TrainAsync(csv, "--method", "curve-fit", "--require-better");

        Assert.True(code is 0 or 1, error);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Equal(code == 0, File.Exists(Path.Combine(_dir, "m.zip")));
    }

    [Theory]
    [InlineData(4, new[] { "curve", "curve fit", "curve blend" })]
    [InlineData(5, new[] { "regression", "curve", "curve fit" })]
    [InlineData(19, new[] { "regression", "curve", "curve fit" })]
    [InlineData(20, new string[0])]
    public void AtTheBoundaries_TheMethodsJudgedByNestedCrossValidation_AreTheDocumentedOnes(int units, string[] judged)
    {
        var lives = Enumerable.Range(0, units).Select(u => 25 + (7 * u % 23)).ToArray();
        var table = RunTable.Read(WriteUnits("runs.csv", lives), "unit", "t");

        var report = RulTrainer.Train(table, new RulTrainingOptions { Budget = TimeSpan.Zero, MaxCandidates = 3, Start = new RulSettings { Trees = 20 } }).Report;

        Assert.Equal(judged, report.MethodScores.Select(m => m.Name));
        Assert.Equal(units < 20, report.Selection.Contains("nested cross-validation", StringComparison.Ordinal));
        Assert.All(report.MethodScores, m => Assert.True(double.IsFinite(m.Rmse), $"{m}"));
    }

    [Fact]
    public async Task CurveFit_MoreUnitsThanItMixes_TrainsAndPredictsSaneValues()
    {
        var lives = Enumerable.Range(0, 45).Select(u => 20 + (13 * u % 41)).ToArray();
        var csv = WriteUnits("runs.csv", lives);

        var (code, output, error) = await TrainAsync(csv, "--method", "curve-fit", "--candidates", "1");

        Assert.True(code == 0, error);
        Assert.Contains("45 units", output, StringComparison.Ordinal);
        Assert.Equal(45, (await PredictValidAsync(csv)).Count);
    }

    [Fact]
    public async Task CurveFit_WithACap_NeverPredictsBeyondIt()
    {
        var csv = WriteUnits("runs.csv", [30, 40, 50, 35]);

        var (code, _, error) = await TrainAsync(csv, "--method", "curve-fit", "--candidates", "2", "--cap", "10");

        Assert.True(code == 0, error);
        Assert.All(await PredictValidAsync(csv, ScoreUnits()), p => Assert.InRange(p.Value.High, 0, 10));
    }

    [Fact]
    public async Task SameInputAndCandidates_GiveTheSameReportAndPredictions()
    {
        var csv = WriteUnits("runs.csv", [30, 40, 50, 35]);
        var reports = new List<string>();
        var predictions = new List<string>();
        for (var run = 0; run < 2; run++)
        {
            var (code, output, _) = await TrainAsync(csv, "--candidates", "4");
            Assert.Equal(0, code);
            await PredictValidAsync(csv);
            reports.Add(Seconds().Replace(output, "N s"));
            predictions.Add(File.ReadAllText(Path.Combine(_dir, "p.csv")));
        }

        Assert.Equal(reports[0], reports[1]);
        Assert.Equal(predictions[0], predictions[1]);
    }

    [Fact]
    public void CurveFitSearch_WithAnHourOfBudget_EndsOnceItsDrawsRepeat_WithoutScoringAnySettingTwice()
    {
        var table = RunTable.Read(WriteUnits("runs.csv", [20, 25, 30]), "unit", "t");

        var report = RulTrainer.Train(table, new RulTrainingOptions { Budget = TimeSpan.FromHours(1), Methods = ["curve fit"] }).Report;

        // Every combination of the values the search drew was tried (the last draws only repeated), each once.
        var settings = report.Candidates.Select(c => FitSettings().Match(c.Settings)).ToList();
        Assert.All(settings, m => Assert.True(m.Success));
        var grid = settings.Select(m => m.Groups["smooth"].Value).Distinct().Count()
            * settings.Select(m => m.Groups["evidence"].Value).Distinct().Count()
            * settings.Select(m => m.Groups["memory"].Value).Distinct().Count();
        Assert.Equal(grid, report.Candidates.Count);
        Assert.True(grid > 2, $"{grid}");
        Assert.Equal(report.Candidates.Count, report.Candidates.Select(c => c.Settings).Distinct().Count());
        Assert.All(report.Candidates, c => Assert.Equal("curve fit", c.Method));
    }

    // ---- Degenerate units ----

    [Fact]
    public async Task CurveFit_AUnitWhoseIndicatorNeverMoves_PredictsFiniteLifeForIt()
    {
        var csv = WriteUnits("runs.csv", [30, 40, 50, 35], flat: u => u == 3);

        var (code, _, error) = await TrainAsync(csv, "--method", "curve-fit", "--candidates", "1");

        Assert.Equal(0, code);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        var predictions = await PredictValidAsync(csv);
        // Its indicator never moved: it is not at its end, so some life remains.
        Assert.True(predictions["u3"].Rul > 0, $"{predictions["u3"]}");
    }

    [Fact]
    public async Task CurveFit_UnitsThatJumpStraightToTheLimit_WithOneRowBeforeIt_Train()
    {
        // u3's capacity falls from 1 to 0.5 at its second row: one row before the limit.
        var csv = WriteUnits("runs.csv", [30, 40, 50, 2, 35], jumpAt: u => u == 3 ? 1 : u == 4 ? 20 : null);

        var (code, output, error) = await TrainAsync(csv, "--end-when", "cap<0.8", "--method", "curve-fit", "--candidates", "3");

        Assert.Equal(0, code);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Contains("5 units", output, StringComparison.Ordinal);
        await PredictValidAsync(csv);
    }

    [Fact]
    public async Task Auto_UnitsThatJumpStraightToTheLimit_Train()
    {
        var csv = WriteUnits("runs.csv", [30, 40, 50, 2, 35], jumpAt: u => u == 3 ? 1 : u == 4 ? 20 : null);

        var (code, _, error) = await TrainAsync(csv, "--end-when", "cap<0.8", "--candidates", "3");

        Assert.Equal(0, code);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        await PredictValidAsync(csv);
    }

    [Fact]
    public async Task CurveFit_LivesOf1And10000_TrainsAndPredictsFiniteValues()
    {
        var path = WriteWildLives();

        var (code, output, error) = await TrainAsync(path, "--method", "curve-fit", "--candidates", "2");

        Assert.Equal(0, code);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Contains("3 units", output, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", output, StringComparison.Ordinal);
        var (predicted, _, predictError) = await PredictAsync(Path.Combine(_dir, "m.zip"), path);
        Assert.True(predicted == 0, predictError);
        AssertSane(ReadPredictions());
    }

    [Fact]
    public async Task Auto_LivesOf1And10000_TrainsAndPredictsFiniteValues()
    {
        var path = WriteWildLives();

        var (code, output, error) = await TrainAsync(path);

        Assert.True(code == 0, error);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Contains("method: curve blend, the lookup and the fit averaged, not chosen between (3 units", output, StringComparison.Ordinal);
        var (predicted, _, predictError) = await PredictAsync(Path.Combine(_dir, "m.zip"), path);
        Assert.True(predicted == 0, predictError);
        AssertSane(ReadPredictions());
    }

    [Fact]
    public async Task CurveFit_LivesOf1And10000_EachPredictionLiesInsideItsOwnInterval()
    {
        var path = WriteWildLives();
        Assert.Equal(0, (await TrainAsync(path, "--method", "curve-fit", "--candidates", "2")).Code);

        await PredictValidAsync(path);
    }

    [Theory]
    [InlineData(1e6)]
    [InlineData(1e-6)]
    public async Task CurveFit_LivesSixOrdersOfMagnitudeApart_WriteAModelThatPredictRulLoads(double scale)
    {
        // Two units of 11 rows: one lives 1 step, the other 'scale' steps. The fit's spread of log lives is then ~12.
        var path = Path.Combine(_dir, "apart.csv");
        var csv = new StringBuilder("unit,t,cap,noise\n");
        foreach (var (unit, life) in new[] { ("one", 1.0), ("other", scale) })
        {
            for (var k = 0; k <= 10; k++)
            {
                csv.Append(CultureInfo.InvariantCulture, $"{unit},{(life * k / 10).ToString("R", CultureInfo.InvariantCulture)},{1 - (0.03 * k)},{k % 3}\n");
            }
        }

        File.WriteAllText(path, csv.ToString());

        var (code, _, error) = await TrainAsync(path, "--method", "curve-fit", "--candidates", "1");

        Assert.True(code == 0, error);
        Assert.Equal(2, (await PredictValidAsync(path)).Count);
    }

    [Fact]
    public void LifeFit_LivesOf1And10000_EveryRowFiniteAndInsideItsBand()
    {
        var population = new[] { 1.0, 10000 }.Select(life =>
        {
            var ages = Enumerable.Range(0, 11).Select(k => life * k / 10).ToArray();
            return new DegradationCurve.Curve(ages, [.. ages.Select(a => a / life)], life);
        }).ToArray();
        var fit = LifeFit.From(population, evidence: 10, memory: 0.5);
        var ages = Enumerable.Range(0, 200).Select(a => a * 50.0).ToArray();

        var estimates = fit.PredictAll(population, ages, [.. ages.Select(a => Math.Min(0.99, a / 10000))]);

        Assert.All(estimates, e =>
        {
            Assert.True(double.IsFinite(e.Rul) && double.IsFinite(e.Low) && double.IsFinite(e.High), $"{e}");
            Assert.True(e.Low >= 0 && e.Low <= e.Rul && e.Rul <= e.High, $"{e}");
        });
    }

    [Fact]
    public async Task CurveFit_TimeInBigSteps_ScalesItsPredictions()
    {
        var plain = WriteUnits("plain.csv", [30, 40, 50, 35]);
        var scaled = WriteUnits("scaled.csv", [30, 40, 50, 35], timeScale: 1e6);

        Assert.Equal(0, (await TrainAsync(plain, "--method", "curve-fit", "--candidates", "1")).Code);
        var small = await PredictValidAsync(plain, WriteUnits("score.csv", [10, 12]));
        Assert.Equal(0, (await TrainAsync(scaled, "--method", "curve-fit", "--candidates", "1")).Code);
        var big = await PredictValidAsync(scaled, WriteUnits("score-scaled.csv", [10, 12], timeScale: 1e6));

        foreach (var (unit, estimate) in small)
        {
            // Only the model's own rounding to hundredths of a step separates them.
            Assert.Equal(estimate.Rul * 1e6, big[unit].Rul, 1e6 * 0.02);
        }
    }

    [Fact]
    public async Task Auto_TimesOf1e200_AreRefusedAtRead_InOneLineNamingTheValue()
    {
        // Beyond ±1e100 the differences and squares train-rul computes overflow to infinity: refused, not mis-scored.
        var csv = WriteUnits("huge.csv", [30, 40, 50, 35], timeScale: 1e200);

        var (code, _, error) = await TrainAsync(csv);

        Assert.Equal(2, code);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Contains("column 't'", error, StringComparison.Ordinal);
        Assert.Contains("is beyond ±1e100", error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Theory]
    [InlineData(1e90)]
    [InlineData(1e-300)]
    public async Task CurveFit_ExtremeTimeSteps_TrainAndPredictFiniteValues(double scale)
    {
        var csv = WriteUnits("huge.csv", [30, 40, 50, 35], timeScale: scale);

        var (code, _, error) = await TrainAsync(csv, "--method", "curve-fit", "--candidates", "1");

        Assert.True(code == 0, error);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        await PredictValidAsync(csv, WriteUnits("score.csv", [10, 12], timeScale: scale));
    }

    [Fact]
    public async Task CurveFit_IndicatorOf1e300_TrainsOrSaysWhy_NeverAStackTrace()
    {
        var csv = WriteUnits("huge.csv", [30, 40, 50, 35], valueScale: 1e300);

        var (code, output, error) = await TrainAsync(csv, "--method", "curve-fit", "--candidates", "1", "--end-when", "cap<80%");

        Assert.True(code is 0 or 2, $"exit {code}: {error}");
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.True(code == 2 || output.Contains("method: curve fit (", StringComparison.Ordinal), output);
        if (code == 0)
        {
            await PredictValidAsync(csv, WriteUnits("score.csv", [10, 12], valueScale: 1e300));
        }
    }

    [Theory]
    [InlineData("curve-fit")]
    [InlineData("curve")]
    [InlineData("auto")]
    public async Task IndicatorSpanningTheDoubleRange_PredictsFiniteValuesOrSaysWhy(string method)
    {
        var path = WriteSpanningUnits();

        var (code, output, error) = await TrainAsync(path, "--end-when", "cap>1e308", "--method", method, "--candidates", "2");

        Assert.True(code is 0 or 2, error);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        if (code == 0)
        {
            Assert.DoesNotContain("NaN", output, StringComparison.Ordinal);
            await PredictValidAsync(path);
        }
        else
        {
            Assert.Single(error.Trim().Split('\n'));
        }

    }

    [Theory]
    [InlineData("curve-fit")]
    [InlineData("auto")]
    public async Task IndicatorNear1e308_TrainsOrSaysWhy_NeverAStackTrace(string method)
    {
        var csv = WriteUnits("huge.csv", [30, 40, 50, 35], valueScale: 1e308);

        var (code, output, error) = await TrainAsync(csv, "--end-when", "cap<80%", "--method", method, "--candidates", "2");

        Assert.True(code is 0 or 2, error);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", output, StringComparison.Ordinal);
    }

    [Fact]
    public void AnIndicatorSpanningTheDoubleRange_IsRefusedAtRead_NamingTheLineAndColumn()
    {
        var refused = Assert.Throws<RunTableException>(() => RunTable.Read(WriteSpanningUnits(), "unit", "t"));

        Assert.Contains("column 'cap'", refused.Message, StringComparison.Ordinal);
        Assert.Contains("is beyond ±1e100", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Auto_IndicatorOf1e90_IsNotCalledConstant()
    {
        var csv = WriteUnits("huge.csv", [30, 40, 50, 35], valueScale: 1e90);

        var (code, output, error) = await TrainAsync(csv, "--end-when", "cap<80%");

        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.DoesNotContain("constant", error, StringComparison.Ordinal);
        Assert.True(code == 0, output + error);
    }

    [Fact]
    public void CurveFit_RandomShapes_EveryRowFiniteNonNegativeAndInsideItsBand()
    {
        var random = new Random(21);
        var path = Path.Combine(_dir, "shapes.csv");
        var csv = new StringBuilder("unit,t,cap\n");
        for (var u = 0; u < 8; u++)
        {
            var life = 5 + random.Next(300);
            var knee = random.NextDouble();
            for (var t = 0; t <= life; t++)
            {
                var x = (double)t / life;
                var fade = x < knee ? 0.05 * x : (0.05 * knee) + (0.5 * (x - knee));
                csv.Append(CultureInfo.InvariantCulture, $"u{u},{(t * (1 + random.Next(3))) + (1000 * t)},{1 - fade + (0.01 * (random.NextDouble() - 0.5)):F5}\n");
            }
        }

        File.WriteAllText(path, csv.ToString());
        var table = RunTable.Read(path, "unit", "t");

        var model = RulTrainer.Train(table, new RulTrainingOptions { Budget = TimeSpan.Zero, MaxCandidates = 1, Methods = ["curve fit"] }).Model;
        foreach (var memory in new[] { 1, 0.5 })
        {
            var curve = new DegradationCurve(model.Curve!.Column, model.Curve.Direction, model.Curve.Life, model.Curve.EndOffset, model.Curve.Smooth, [.. model.Curve.Curves], model.Curve.Fitted! with { Memory = memory, Evidence = 10 });
            foreach (var unit in table.Units)
            {
                Assert.All(curve.PredictAll(unit), e =>
                {
                    Assert.True(double.IsFinite(e.Rul) && double.IsFinite(e.Low) && double.IsFinite(e.High), $"{e}");
                    Assert.True(e.Low >= 0 && e.Low <= e.Rul && e.Rul <= e.High, $"{e}");
                });
            }
        }
    }

    [Fact]
    public async Task CurveFit_PredictsAUnitWithASingleRow()
    {
        var csv = WriteUnits("runs.csv", [30, 40, 50, 35]);
        Assert.Equal(0, (await TrainAsync(csv, "--method", "curve-fit", "--candidates", "1")).Code);

        var predictions = await PredictValidAsync(WriteUnits("one.csv", [1, 1, 5]));

        Assert.Equal(3, predictions.Count);
    }

    [Fact]
    public void LifeFit_WithoutAUnitOfLifeAboveZero_IsRefused()
    {
        DegradationCurve.Curve[] population = [new([0], [0], 0), new([], [], 5)];

        Assert.Throws<ArgumentException>(() => LifeFit.From(population, evidence: 1));
        Assert.Equal((0, 0, 0), new LifeFit(0.1, 0.1, 1).PredictAll(population, [3], [0.5])[0]);
    }

    // ---- Tampered model files ----

    [Theory]
    [InlineData("Spread", "0")]
    [InlineData("Spread", "-1")]
    [InlineData("LogSpread", "0")]
    [InlineData("LogSpread", "-0.5")]
    [InlineData("Evidence", "0")]
    [InlineData("Evidence", "-3")]
    [InlineData("Spread", "\"NaN\"")]
    [InlineData("Evidence", "\"Infinity\"")]
    [InlineData("Evidence", "null")]
    [InlineData("Memory", "\"x\"")]
    [InlineData("Evidence", "1e400")]
    [InlineData("Spread", "1e-400")]
    public async Task PredictRul_RefusesACurveFitThatCannotBeScored_InOneLine(string field, string json)
    {
        var model = await TrainFitAsync();
        Tamper(model, fitted => fitted[field] = JsonNode.Parse(json));

        var (code, output, error) = await PredictAsync(model);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains(model, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"Evidence":1}""")]
    [InlineData("""{"Spread":0.1,"LogSpread":0.2}""")]
    [InlineData("\"fit\"")]
    [InlineData("[1,2,3]")]
    [InlineData("7")]
    public async Task PredictRul_RefusesACurveFitWithMissingOrMistypedFields_InOneLine(string json)
    {
        var model = await TrainFitAsync();
        Tamper(model, fitted => fitted.Parent!["Fitted"] = JsonNode.Parse(json));

        var (code, _, error) = await PredictAsync(model);

        Assert.Equal(2, code);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains(model, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PredictRul_ACurveFitWithoutMemory_ScoresAsMemory1()
    {
        var model = await TrainFitAsync();
        Tamper(model, fitted => fitted["Memory"] = 1);
        var csv = WriteUnits("score.csv", [10, 12, 30]);
        var withMemory = await PredictValidAsync(csv);
        Tamper(model, fitted => fitted.Remove("Memory"));

        var without = await PredictValidAsync(csv);

        Assert.Equal(withMemory, without);
    }

    [Fact]
    public async Task PredictRul_ACurveFitWithoutTheFitScoresAsTheLookup()
    {
        var model = await TrainFitAsync();
        Tamper(model, fitted => fitted.Parent!.AsObject().Remove("Fitted"));

        var predictions = await PredictValidAsync(WriteUnits("score.csv", [10, 12, 30]));

        Assert.Equal(3, predictions.Count);
    }

    [Theory]
    [InlineData("Evidence", 1e300)]
    [InlineData("Evidence", 1e-300)]
    [InlineData("Spread", 1e300)]
    [InlineData("Spread", 1e308)]
    [InlineData("Spread", 0.02)]
    [InlineData("Evidence", 1e303)]
    [InlineData("LogSpread", 1e-300)]
    [InlineData("LogSpread", 1e300)]
    [InlineData("Memory", 0)]
    [InlineData("Memory", 0.999999)]
    public async Task PredictRul_ACurveFitWithExtremeButPositiveValues_PredictsSaneValuesOrIsRefused(string field, double value)
    {
        var model = await TrainFitAsync();
        Tamper(model, fitted => fitted[field] = value);

        await PredictSaneOrRefusedAsync(model);
    }

    [Theory]
    [InlineData("Spread", 1e-300)]
    [InlineData("Spread", 1e-160)]
    [InlineData("Evidence", 1e308)]
    public async Task PredictRul_ACurveFitWhoseMisfitScaleOverflows_IsRefused_NotScoredAsNaN(string field, double value)
    {
        var model = await TrainFitAsync();
        Tamper(model, fitted => fitted[field] = value);

        var (code, _, error) = await PredictAsync(model, ScoreUnits());
        var written = File.Exists(Path.Combine(_dir, "p.csv")) ? File.ReadAllText(Path.Combine(_dir, "p.csv")) : "";

        Assert.DoesNotContain("NaN", written, StringComparison.Ordinal);
        Assert.Equal(2, code);
        Assert.Equal($"{model}: its telemetry-rul.json has a curve fit that cannot be scored.", error.Trim());
    }

    [Theory]
    [InlineData(-1e300)]
    [InlineData(1e300)]
    [InlineData(-1)]
    [InlineData(2)]
    public async Task PredictRul_ACurveFitWithAMemoryOutside0To1_IsRefused(double memory)
    {
        var model = await TrainFitAsync();
        Tamper(model, fitted => fitted["Memory"] = memory);

        var (code, _, error) = await PredictAsync(model, ScoreUnits());

        Assert.Equal(2, code);
        Assert.Equal($"{model}: its telemetry-rul.json has a curve fit that cannot be scored.", error.Trim());
    }

    [Theory]
    [InlineData(1e-300)]
    [InlineData(-5)]
    [InlineData(0)]
    public async Task PredictRul_ACurveFitWhoseTrainingLivesAreExtreme_PredictsSaneValuesOrIsRefused(double life)
    {
        var model = await TrainFitAsync();
        Tamper(model, fitted => fitted.Parent!["Curves"]![0]!["Life"] = life);

        await PredictSaneOrRefusedAsync(model);
    }

    [Fact]
    public async Task PredictRul_ACurveFitWithATrainingLifeOf1e308_IsRefused()
    {
        var model = await TrainFitAsync();
        Tamper(model, fitted => fitted.Parent!["Curves"]![0]!["Life"] = 1e308);

        var (code, _, error) = await PredictAsync(model, ScoreUnits());

        Assert.Equal(2, code);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public async Task PredictRul_ACurveFitWithoutAnyTrainingCurve_IsRefused()
    {
        var model = await TrainFitAsync();
        Tamper(model, fitted => fitted.Parent!["Curves"] = new JsonArray());

        var (code, _, error) = await PredictAsync(model, ScoreUnits());

        Assert.Equal(2, code);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PredictRul_ACurveFitWhoseTrainingProgressIsHuge_PredictsSaneValuesOrIsRefused()
    {
        var model = await TrainFitAsync();
        Tamper(model, fitted =>
        {
            foreach (var curve in fitted.Parent!["Curves"]!.AsArray())
            {
                var progress = curve!["Progress"]!.AsArray();
                for (var i = 0; i < progress.Count; i++)
                {
                    progress[i] = i % 2 == 0 ? 1e300 : -1e300;
                }
            }
        });

        await PredictSaneOrRefusedAsync(model);
    }

    // ---- Helpers ----

    /// <summary>Four units whose 'cap' rises from -1e308 to 1.5e308: every value is finite, but a value less the first one overflows.</summary>
    private string WriteSpanningUnits()
    {
        var path = Path.Combine(_dir, "span.csv");
        var csv = new StringBuilder("unit,t,cap,noise\n");
        var random = new Random(17);
        foreach (var (unit, life) in new[] { ("a", 30), ("b", 40), ("c", 50), ("d", 35) })
        {
            for (var t = 0; t <= life; t++)
            {
                var cap = (-1 + (2.5 * t / life)) * 1e308;
                csv.Append(CultureInfo.InvariantCulture, $"{unit},{t},{cap.ToString("R", CultureInfo.InvariantCulture)},{random.NextDouble():F3}\n");
            }
        }

        File.WriteAllText(path, csv.ToString());
        return path;
    }

    /// <summary>Three units whose lives are 1, 100 and 10000 steps, 'cap' falling by 0.3 over each.</summary>
    private string WriteWildLives()
    {
        var path = Path.Combine(_dir, "wild.csv");
        var csv = new StringBuilder("unit,t,cap,noise\n");
        var random = new Random(11);
        foreach (var (unit, life) in new[] { ("short", 1), ("long", 10000), ("mid", 100) })
        {
            for (var t = 0; t <= life; t++)
            {
                csv.Append(CultureInfo.InvariantCulture, $"{unit},{t},{1 - (0.3 * t / life) + (0.001 * random.NextDouble()):F5},{random.NextDouble():F3}\n");
            }
        }

        File.WriteAllText(path, csv.ToString());
        return path;
    }

    /// <summary>A curve-fit model of four ordinary units, written to m.zip.</summary>
    private async Task<string> TrainFitAsync()
    {
        var (code, _, error) = await TrainAsync(WriteUnits("train.csv", [30, 40, 50, 35]), "--method", "curve-fit", "--candidates", "1");
        Assert.True(code == 0, error);
        return Path.Combine(_dir, "m.zip");
    }

    /// <summary>Units to score: at their end after 1 to 80 rows, one whose indicator never moves (u6), and one cut half-way through its life (u7).</summary>
    private string ScoreUnits()
    {
        var csv = WriteUnits("score.csv", [1, 2, 10, 12, 30, 80, 30, 60], flat: u => u == 6);
        File.WriteAllLines(csv, File.ReadAllLines(csv).Where(l => !l.StartsWith("u7,", StringComparison.Ordinal) || int.Parse(l.Split(',')[1], CultureInfo.InvariantCulture) <= 30));
        return csv;
    }

    /// <summary>Rewrites the model's telemetry-rul.json, changing its Curve.Fitted object.</summary>
    private static void Tamper(string model, Action<JsonObject> change) => RulModelFile.Rewrite(model, root => change(root["Curve"]!["Fitted"]!.AsObject()));

    /// <summary>Either a clear one-line refusal (exit 2), or predictions that are finite, non-negative and ordered.</summary>
    private async Task PredictSaneOrRefusedAsync(string model)
    {
        var (code, _, error) = await PredictAsync(model, ScoreUnits());

        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        if (code == 2)
        {
            Assert.Single(error.Trim().Split('\n'));
            return;
        }

        Assert.True(code == 0, error);
        AssertSane(ReadPredictions());
    }

    /// <summary>Predicts <paramref name="csv"/> with m.zip and checks every prediction is finite, non-negative and p10 ≤ rul ≤ p90.</summary>
    private async Task<Dictionary<string, RulEstimate>> PredictValidAsync(string csv, string? units = null)
    {
        var (code, _, error) = await PredictAsync(Path.Combine(_dir, "m.zip"), units ?? csv);
        Assert.True(code == 0, error);
        var predictions = ReadPredictions();
        AssertSane(predictions);
        return predictions;
    }

    private static void AssertSane(Dictionary<string, RulEstimate> predictions) =>
        Assert.All(predictions, p =>
        {
            var e = p.Value;
            Assert.True(double.IsFinite(e.Rul) && double.IsFinite(e.Low) && double.IsFinite(e.High), $"{p.Key}: {e}");
            Assert.True(e.Low >= 0 && e.Low <= e.Rul && e.Rul <= e.High, $"{p.Key}: {e}");
        });

    private Dictionary<string, RulEstimate> ReadPredictions() => ModelCli.ReadPredictions(Path.Combine(_dir, "p.csv"));

    /// <summary>
    /// Writes units of the given lives (rows at t = 1..life, times <paramref name="timeScale"/>): 'cap' falls by 0.3
    /// over the life from 1 with small noise (all times <paramref name="valueScale"/>), stays at 1 for a
    /// <paramref name="flat"/> unit, or drops to 0.5 at row <paramref name="jumpAt"/>; 'noise' is noise. Seeded.
    /// </summary>
    private string WriteUnits(string name, int[] lives, Func<int, bool>? flat = null, Func<int, int?>? jumpAt = null, double timeScale = 1, double valueScale = 1)
    {
        var path = Path.Combine(_dir, name);
        var random = new Random(3);
        var csv = new StringBuilder("unit,t,cap,noise\n");
        for (var u = 0; u < lives.Length; u++)
        {
            for (var t = 1; t <= lives[u]; t++)
            {
                var noise = 0.005 * (random.NextDouble() - 0.5);
                var cap = flat?.Invoke(u) == true ? 1 + noise
                    : jumpAt?.Invoke(u) is { } jump ? (t - 1 >= jump ? 0.5 : 1) + noise
                    : 1 - (0.3 * t / lives[u]) + noise;
                csv.Append(CultureInfo.InvariantCulture, $"u{u},{(t * timeScale).ToString("R", CultureInfo.InvariantCulture)},{(cap * valueScale).ToString("R", CultureInfo.InvariantCulture)},{5 + random.NextDouble():F3}\n");
            }
        }

        File.WriteAllText(path, csv.ToString());
        return path;
    }

    private Task<(int Code, string Output, string Error)> TrainAsync(string csv, params string[] extra) =>
        ModelCli.InvokeAsync(["train-rul", "--csv", csv, "--unit", "unit", "--time", "t", "--out", Path.Combine(_dir, "m.zip"), "--budget", "0", "--trees", "20", .. extra]);

    private Task<(int Code, string Output, string Error)> PredictAsync(string model, string? csv = null) =>
        ModelCli.InvokeAsync(["predict-rul", "--model", model, "--csv", csv ?? WriteUnits("score.csv", [10, 12]), "--unit", "unit", "--time", "t", "--out", Path.Combine(_dir, "p.csv")]);

    [GeneratedRegex(@"method: (?<method>[a-z ]+) \(.*\), one of (?<count>\d+) candidates tried")]
    private static partial Regex MethodLine();

    [GeneratedRegex(@"rolling median of (?<smooth>\d+), evidence (?<evidence>[\d.]+) per row, memory (?<memory>[\d.]+)$")]
    private static partial Regex FitSettings();

    [GeneratedRegex(@"in \d+ s;")]
    private static partial Regex Seconds();
}
