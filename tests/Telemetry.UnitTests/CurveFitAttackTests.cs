using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Grains.Serialization;
using Telemetry.Models.Learning;
using Telemetry.Models.Rul;
using Telemetry.Models.Wear;
using Xunit;
using static Telemetry.UnitTests.CurveFitModels;

namespace Telemetry.UnitTests;

/// <summary>
/// Attacks on the curve fit served to device twins: tampered model reports (curves and fit settings), tampered stored
/// histories, hostile reading clocks, deep copies, model reloads and concurrency. Written by an independent review; the
/// bugs it found are fixed and their tests enabled. (A reading dated years ahead would stop the weekly points; ingest
/// refuses readings more than its MaxFutureSkew ahead of the service clock, so none reaches a twin.)
/// </summary>
public sealed class CurveFitAttackTests : IDisposable
{
    private static readonly IServiceProvider Services = new ServiceCollection()
        .AddSerializer(b => b.AddAssembly(typeof(DeviceState).Assembly))
        .BuildServiceProvider();

    private readonly CurveFitModels _models = new();

    public void Dispose() => _models.Dispose();

    // ---------------------------------------------------------------- tampered reports: Fit settings

    [Theory]
    [InlineData(0.0199, 0.2, 0.3, 0.7)]
    [InlineData(10.0001, 0.2, 0.3, 0.7)]
    [InlineData(0.1, 0.0499, 0.3, 0.7)]
    [InlineData(0.1, 10.0001, 0.3, 0.7)]
    [InlineData(0.1, 0.2, 0, 0.7)]
    [InlineData(0.1, 0.2, 1_000_001, 0.7)]
    [InlineData(0.1, 0.2, 0.3, 0)]
    [InlineData(0.1, 0.2, 0.3, -0.5)]
    [InlineData(0.1, 0.2, 0.3, 1.0000001)]
    [InlineData(-1, -1, -1, -1)]
    [InlineData(1e308, 1e308, 1e308, 1e308)]
    public void FitSettingsBeyondTheirBounds_AreRefusedAtLoad(double spread, double logSpread, double evidence, double memory)
    {
        _models.PatchBandReport(report => report["Fit"] = JsonSerializer.SerializeToNode(new LifeFit(spread, logSpread, evidence, memory)));

        var error = Assert.Throws<InvalidDataException>(() => _models.Load());
        Assert.Contains("band-rul.json", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(LifeFit.MinSpread, LifeFit.MinLogSpread, 1e6, 1)]
    [InlineData(10, LifeFit.MaxLogSpread, 1e6, 1)]
    [InlineData(LifeFit.MinSpread, LifeFit.MinLogSpread, 1e-300, 1e-300)]
    [InlineData(10, LifeFit.MaxLogSpread, double.Epsilon, double.Epsilon)]
    public void FitSettingsAtTheirBounds_ScoreFiniteRemainingLife(double spread, double logSpread, double evidence, double memory)
    {
        _models.PatchBandReport(report => report["Fit"] = JsonSerializer.SerializeToNode(new LifeFit(spread, logSpread, evidence, memory)));
        var model = _models.Load();

        AssertScoresSanely(model);
    }

    [Fact]
    public void AFitWithoutMemory_TakesTheDefaultOfOne_AndScores()
    {
        _models.PatchBandReport(report => report["Fit"] = JsonNode.Parse("""{"Spread":0.1,"LogSpread":0.2,"Evidence":0.3}"""));

        AssertScoresSanely(_models.Load());
    }

    [Fact]
    public void AFitOfJsonNull_IsRefusedAtLoad()
    {
        _models.PatchBandReport(report => report["Fit"] = null);

        Assert.Throws<InvalidDataException>(() => _models.Load());
    }

    // ---------------------------------------------------------------- tampered reports: Curves

    [Fact]
    public void CurvesWithANullEntry_AreRefusedAtLoad_OrScoreSanely()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonNode.Parse("[null]"));

        AssertRefusedOrSane();
    }

    [Fact]
    public void ACurveWithoutAges_IsRefusedAtLoad_OrScoresSanely()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonNode.Parse("""[{"Ages":null,"Progress":[0,0.5,1],"Life":100}]"""));

        AssertRefusedOrSane();
    }

    [Fact]
    public void ACurveWithoutProgress_IsRefusedAtLoad_OrScoresSanely()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonNode.Parse("""[{"Ages":[0,50,100],"Progress":null,"Life":100}]"""));

        AssertRefusedOrSane();
    }

    [Fact]
    public void ACurveWithMoreAgesThanProgress_IsRefusedAtLoad_OrScoresSanely()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonNode.Parse("""[{"Ages":[0,25,50,75,100],"Progress":[0,0.25],"Life":100}]"""));

        AssertRefusedOrSane();
    }

    [Fact]
    public void ACurveWithMoreProgressThanAges_ScoresSanely()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonNode.Parse("""[{"Ages":[0,50],"Progress":[0,0.5,0.75,1],"Life":100}]"""));

        AssertRefusedOrSane();
    }

    [Fact]
    public void CurvesWithoutALifeAboveZero_AreRefusedAtLoad()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonSerializer.SerializeToNode(new[] { Linear(100) with { Life = -100 }, Linear(80) with { Life = 0 } }));

        Assert.Throws<InvalidDataException>(() => _models.Load());
    }

    [Fact]
    public void CurvesWithoutAges_AreRefusedAtLoad()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonNode.Parse("""[{"Ages":[],"Progress":[],"Life":100},{"Ages":[],"Progress":[],"Life":120}]"""));

        Assert.Throws<InvalidDataException>(() => _models.Load());
    }

    [Fact]
    public void ACurveOfAnOverflowingLife_IsRefusedAtLoad_OrScoresSanely()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonNode.Parse("""[{"Ages":[0,50,100],"Progress":[0,0.5,1],"Life":100},{"Ages":[0,1e306],"Progress":[0,1],"Life":1e308}]"""));

        AssertRefusedOrSane();
    }

    [Fact]
    public void ALifeOutOfDoubleRange_IsRefusedAtLoad_OrScoresSanely()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonNode.Parse("""[{"Ages":[0,50,100],"Progress":[0,0.5,1],"Life":100},{"Ages":[0,50,100],"Progress":[0,0.5,1],"Life":1e400}]"""));
        Assert.Contains("1e400", File.ReadAllText(Path.Combine(_models.Root, "band-rul.json")), StringComparison.Ordinal);

        AssertRefusedOrSane();
    }

    [Theory]
    [InlineData("""{"Spread":1e400,"LogSpread":0.2,"Evidence":0.3,"Memory":0.7}""")]
    [InlineData("""{"Spread":0.1,"LogSpread":0.2,"Evidence":1e-400,"Memory":0.7}""")]
    [InlineData("""{"Spread":0.1,"LogSpread":0.2,"Evidence":1e400,"Memory":0.7}""")]
    [InlineData("""{"Spread":0.1,"LogSpread":-1e400,"Evidence":0.3,"Memory":0.7}""")]
    [InlineData("""{}""")]
    public void FitSettingsOutOfDoubleRange_AreRefusedAtLoad(string fit)
    {
        _models.PatchBandReport(report => report["Fit"] = JsonNode.Parse(fit));

        Assert.Throws<InvalidDataException>(() => _models.Load());
    }

    [Fact]
    public void ANaNLiteralInTheReport_IsRefusedWithAnInvalidDataExceptionNamingTheFile()
    {
        _models.PatchBandReport(report => report["Fit"] = JsonNode.Parse("""{"Spread":0.1,"LogSpread":0.2,"Evidence":0.3,"Memory":"NaN"}"""));

        var error = Assert.Throws<InvalidDataException>(() => _models.Load());
        Assert.Contains("band-rul.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnIntervalOutOfDoubleRange_IsRefusedAtLoad_OrScoresSanely()
    {
        _models.PatchBandReport(report => report["High"] = JsonNode.Parse("1e400"));

        AssertRefusedOrSane();
    }

    [Fact]
    public void AZeroLifeAmongUsableCurves_IsLeftOut_AndTheRestScore_ButANegativeLifeIsRefused()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonSerializer.SerializeToNode(new[] { Linear(80) with { Life = 0 }, Linear(100), Linear(120) }));
        var model = _models.Load();

        AssertScoresSanely(model);
        Assert.True(model.EstimateBand(Band(50, 90), new WearHistory()).RemainingCycles > 10);

        // No training writes a negative life (train-rul's own loader refuses one too).
        _models.PatchBandReport(report => report["Curves"] = JsonSerializer.SerializeToNode(new[] { Linear(100) with { Life = -100 }, Linear(100), Linear(120) }));
        Assert.Contains("band-rul.json", Assert.Throws<InvalidDataException>(() => _models.Load()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACurveWithHugeProgressValues_ScoresFinitely()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonSerializer.SerializeToNode(new[]
        {
            Linear(100),
            new DegradationCurve.Curve([0, 50, 100], [0, 1e300, -1e300], 100),
        }));

        AssertRefusedOrSane();
    }

    [Fact]
    public void ACurveWithUnsortedAndNegativeAges_ScoresFinitely()
    {
        _models.PatchBandReport(report => report["Curves"] = JsonSerializer.SerializeToNode(new[]
        {
            Linear(100),
            new DegradationCurve.Curve([100, -50, 0, 30, -1e300], [1, 0.2, 0, 0.9, 0.5], 90),
        }));

        AssertRefusedOrSane();
    }

    [Fact]
    public void ABandReportThatSaysItIsAShoe_IsRefusedAtLoad()
    {
        _models.PatchBandReport(report => report["Kind"] = "shoe");

        Assert.Throws<InvalidDataException>(() => _models.Load());
    }

    // ---------------------------------------------------------------- hostile inputs to a loaded model

    [Fact]
    public void HostileAges_GiveFiniteNonNegativeRemainingLife()
    {
        var model = _models.Load();
        foreach (var cycles in new[] { 0, -5, 1e6, 1e30, 1e39, double.MaxValue, double.PositiveInfinity })
        {
            var history = new WearHistory();
            for (var week = 0; week < 3; week++)
            {
                history.Week = week;
                AssertSane(model.EstimateBand(Band(cycles, 90), history), $"cycles {cycles} week {week}");
                AssertSane(model.EstimateBand(Band(cycles + 1, 90), history), $"cycles {cycles}+1 week {week}");
            }

            Assert.All(history.Ages, a => Assert.True(double.IsFinite(a)));
        }
    }

    [Fact]
    public void ANaNHealth_OnAFreshHistory_GivesNoNaN()
    {
        var model = _models.Load();

        var estimate = model.EstimateBand(new BandWearInput(300, double.NaN, 50, 7, 0.2, double.NaN), new WearHistory());

        Assert.False(double.IsNaN(estimate.RemainingCycles), "remaining NaN");
        Assert.False(double.IsNaN(estimate.RemainingCyclesP10!.Value), "p10 NaN");
    }

    [Fact]
    public void ANaNHealth_OnAHistoryWithPoints_KeepsTheLastFit()
    {
        var model = _models.Load();
        var history = History([(10, 0.1), (20, 0.2), (30, 0.3)]);
        history.Week = 3;
        var before = model.EstimateBand(Band(40, 92), history).RemainingCycles;

        var estimate = model.EstimateBand(new BandWearInput(300, double.NaN, 42, 7, 0.2, double.NaN), history);

        Assert.Equal(before - 2, estimate.RemainingCycles, 9);
        Assert.Equal(4, history.Count);
    }

    // ---------------------------------------------------------------- tampered stored histories

    [Fact]
    public void ARestoredHistory_FromDamagedArrays_IsSane()
    {
        var random = new Random(7);
        double[] pool = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, -1, 0, 0.5, 1, 1.0000001, 1e308, -1e308, double.Epsilon];
        for (var trial = 0; trial < 2000; trial++)
        {
            var ages = Enumerable.Range(0, random.Next(0, 120)).Select(_ => random.Next(3) == 0 ? pool[random.Next(pool.Length)] : random.NextDouble() * 500).ToArray();
            var progress = Enumerable.Range(0, random.Next(0, 120)).Select(_ => random.Next(3) == 0 ? pool[random.Next(pool.Length)] : random.NextDouble()).ToArray();
            var lastWeek = random.Next(3) switch { 0 => int.MinValue, 1 => random.Next(-5, 200), _ => random.Next() };

            var history = new WearHistoryConverter().ConvertFromSurrogate(new WearHistorySurrogate { Ages = ages, Progress = progress, LastWeek = lastWeek });

            Assert.InRange(history.Count, 0, WearHistory.MaxPoints);
            Assert.Equal(history.Count, history.Progress.Count);
            Assert.True(history.LastWeek >= -1);
            for (var i = 0; i < history.Count; i++)
            {
                Assert.True(double.IsFinite(history.Ages[i]));
                Assert.InRange(history.Progress[i], 0, 1);
                Assert.True(i == 0 || history.Ages[i] >= history.Ages[i - 1]);
            }
        }
    }

    [Fact]
    public void ARestoredHistory_OfMismatchedLengths_KeepsThePairedPrefix()
    {
        var history = WearHistory.Restore([1.0, 2, 3, 4, 5], [0.1, 0.2], 4);

        Assert.Equal([1.0, 2], history.Ages);
        Assert.Equal([0.1, 0.2], history.Progress);
        Assert.Equal(0, WearHistory.Restore([], [0.1], 3).Count);
    }

    [Fact]
    public void ARestoredHistory_WithALastWeekBeyondTheUsagesClock_RecordsTheNextWeek()
    {
        var model = _models.Load();
        const long StartMs = 1_795_392_000_000;
        var usage = new ShoeUsageConverter().ConvertFromSurrogate(new ShoeUsageSurrogate
        {
            DistanceKm = 40,
            FirstMs = StartMs,
            LastMs = StartMs + (3 * WearHistory.WeekMs),
            History = new WearHistoryConverter().ConvertFromSurrogate(new WearHistorySurrogate { Ages = [10.0, 20, 30], Progress = [0.1, 0.2, 0.3], LastWeek = int.MaxValue }),
        });
        Assert.Equal(3, usage.History.Week);

        var band = new BandUsage { History = usage.History };
        for (var week = 4; week < 10; week++)
        {
            band.History.Week = week;
            model.EstimateBand(Band(10 * (week + 1), 100 - (2 * (week + 1))), band.History);
        }

        Assert.True(band.History.Count > 3, $"no point added in 6 weeks after a restore with LastWeek {band.History.LastWeek}");
    }

    [Fact]
    public void ARestoredHistory_WithAnAgeBeyondTheUsage_DoesNotZeroTheRemainingLifeForEver()
    {
        var model = _models.Load();
        // Through the store: the band's usage says it is new (no cycles since its reference).
        var restored = new BandUsageConverter().ConvertFromSurrogate(new BandUsageSurrogate
        {
            FirstMs = 0,
            LastMs = 0,
            FirstCycles = 0,
            History = WearHistory.Restore([1e308], [0.1], 0),
        }).History;
        Assert.Equal(0, restored.Count);
        var fresh = new WearHistory();

        for (var week = 1; week < 6; week++)
        {
            restored.Week = fresh.Week = week;
            var input = Band(10 * week, 100 - (2 * week));
            Assert.Equal(model.EstimateBand(input, fresh).RemainingCycles > 0, model.EstimateBand(input, restored).RemainingCycles > 0);
        }
    }

    [Fact]
    public void ATamperedHistory_ThroughTheStoreOfATwin_GivesASaneHistory()
    {
        var serializer = Services.GetRequiredService<Serializer>();
        var state = new DeviceState { Birth = new DeviceBirth { Kind = "band", Model = "M1", Batch = "B1", Firmware = "1.0.0", RatedCapacityMah = 300 } };
        state.BandUsage = new BandUsageConverter().ConvertFromSurrogate(new BandUsageSurrogate
        {
            FirstMs = 0,
            LastMs = 5 * WearHistory.WeekMs,
            FirstCycles = 0,
            Cycles = 200,
            History = WearHistory.Restore([.. Enumerable.Range(0, 200).Select(i => (double)i)], [.. Enumerable.Range(0, 200).Select(i => i / 400.0)], 199),
        });

        var loaded = serializer.Deserialize<DeviceState>(serializer.SerializeToArray(state))!;

        Assert.Equal(WearHistory.MaxPoints, loaded.BandUsage.History.Count);
        Assert.Equal(199, loaded.BandUsage.History.Ages[^1]);
        Assert.Equal(5, loaded.BandUsage.History.Week);
        Assert.Equal(5, loaded.BandUsage.History.LastWeek); // a stored week after the usage's own is brought back to it
    }

    // ---------------------------------------------------------------- readings: hostile clocks and counters

    [Fact]
    public void ReadingsGoingBackInTime_AddNoPointForAnEarlierWeek_AndTheRemainingLifeStaysSane()
    {
        var model = _models.Load();
        var state = NewBand();
        const long StartMs = 1_795_392_000_000;
        long[] days = [0, 8, 15, 3, 1, 16, 22, -40, 30, 29, 36];
        var cycles = 0.0;
        foreach (var day in days)
        {
            cycles += 6;
            Charge(state, StartMs + (day * 86_400_000L), cycles, 300 * (1 - (0.001 * cycles)));
            WearAssessor.Assess(state, model, DateTimeOffset.FromUnixTimeMilliseconds(StartMs + (day * 86_400_000L)));
            Assert.True(state.Wear!.RemainingCycles is >= 0, $"day {day}: {state.Wear.RemainingCycles}");
            Assert.True(state.BandUsage.History.Week >= 0);
        }

        var history = state.BandUsage.History;
        Assert.True(history.Count <= 6, $"{history.Count} points from 6 distinct weeks");
        for (var i = 1; i < history.Count; i++)
        {
            Assert.True(history.Ages[i] >= history.Ages[i - 1]);
        }
    }

    [Fact]
    public void ManyReadingsInOneWeek_AddOnePoint_AndTheRemainingLifeFallsByTheCyclesUsed()
    {
        var model = _models.Load();
        var history = History([(10, 0.1), (20, 0.2), (30, 0.3), (40, 0.4)]);
        history.Week = 4;
        var first = model.EstimateBand(Band(50, 90), history).RemainingCycles;

        for (var k = 1; k <= 200; k++)
        {
            var cycles = 50 + (k * 0.1);
            var remaining = model.EstimateBand(Band(cycles, 90 - (k * 0.01)), history).RemainingCycles;
            Assert.Equal(Math.Max(0, first - ((float)cycles - 50)), remaining, 9); // the features are float
        }

        Assert.Equal(5, history.Count);
    }

    [Fact]
    public void HealthGoingUpAndDown_IsKeptAsMeasured_TheFitReadsItRateLimited_AndTheRemainingLifeIsFinite()
    {
        var model = _models.Load();
        var history = new WearHistory();
        double[] health = [99, 97, 99.5, 95, 96, 100, 92, 101, 90, 95, 85];
        for (var week = 0; week < health.Length; week++)
        {
            history.Week = week;
            AssertSane(model.EstimateBand(Band(10 * week, health[week]), history), $"week {week}");
        }

        Assert.Equal(health.Length, history.Count);
        Assert.Equal(health.Select(h => Math.Clamp((100 - h) / 20, 0, 1)), history.Progress.Select(p => Math.Round(p, 5)));
        Assert.Equal(WearHistory.Limited(history.Progress), history.Trajectory());
        Assert.Equal(0.35, history.Trajectory()[^1], 5); // 0.75 measured, a tenth above the week before's 0.25
    }

    [Fact]
    public void ACycleCounterResetToZero_DoesNotMakeTheDeviceYounger()
    {
        var model = _models.Load();
        var state = NewBand();
        const long StartMs = 1_795_392_000_000;
        double[] counters = [0, 10, 20, 30, 0, 5, 12, 45];
        for (var week = 0; week < counters.Length; week++)
        {
            var ms = StartMs + (week * WearHistory.WeekMs);
            Charge(state, ms, counters[week], 300 * (1 - (0.002 * (10 * week))));
            WearAssessor.Assess(state, model, DateTimeOffset.FromUnixTimeMilliseconds(ms));
            Assert.True(state.Wear!.RemainingCycles is >= 0);
        }

        var history = state.BandUsage.History;
        Assert.Equal(counters.Length, history.Count);
        Assert.Equal([0.0, 10, 20, 30, 30, 30, 30, 45], history.Ages);
    }

    [Fact]
    public void OneGlitchedCapacityReading_DoesNotCondemnTheBandForEver() => AssertAGlitchIsForgotten(_models.Load());

    [Fact]
    public void OneGlitchedCapacityReading_IsForgottenByTheLookup()
    {
        _models.PatchBandReport(report => report["Method"] = "curve");

        AssertAGlitchIsForgotten(_models.Load());
    }

    private static void AssertAGlitchIsForgotten(LearnedWearModel model)
    {
        var (clean, glitched) = (NewBand(), NewBand());
        const long StartMs = 1_795_392_000_000;
        for (var day = 0; day < 56; day++)
        {
            var ms = StartMs + (day * 86_400_000L);
            var cycles = 1.0 * day;
            var mah = 300 * (1 - (0.0005 * cycles));
            Charge(clean, ms, cycles, mah);
            Charge(glitched, ms, cycles, day == 21 ? 0 : mah); // day 21: the first summary of week 3
            WearAssessor.Assess(clean, model, DateTimeOffset.FromUnixTimeMilliseconds(ms));
            WearAssessor.Assess(glitched, model, DateTimeOffset.FromUnixTimeMilliseconds(ms));
        }

        // Five weeks later both bands report the same health again.
        Assert.Equal(clean.Wear!.BatteryHealthPct, glitched.Wear!.BatteryHealthPct);
        Assert.True(clean.Wear.RemainingCycles > 20, $"clean {clean.Wear.RemainingCycles}");
        Assert.True(glitched.Wear.RemainingCycles > 0.5 * clean.Wear.RemainingCycles, $"glitched {glitched.Wear.RemainingCycles} against clean {clean.Wear.RemainingCycles}; history progress {string.Join(", ", glitched.BandUsage.History.Progress.Select(p => p.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}");
    }

    // ---------------------------------------------------------------- deep copy, reload, concurrency

    [Fact]
    public void AShoeTwinServedByTheCurveFit_RecordsAWeekAPoint_AndServesFiniteKm()
    {
        DegradationCurve.Curve[] shoes = [.. new[] { 500.0, 700, 900 }.Select(life => Linear(life))];
        _models.PatchReport("shoe", report =>
        {
            report["Method"] = "curve fit";
            report["Curves"] = JsonSerializer.SerializeToNode(shoes);
            report["Fit"] = JsonSerializer.SerializeToNode(LifeFit.From(shoes, evidence: 1, memory: 0.9));
        });
        var model = _models.Load();
        var state = new DeviceState { Birth = new DeviceBirth { Kind = "shoe", Model = "S1", Batch = "B1", Firmware = "1.0.0", WearerKg = 70 } };
        const long StartMs = 1_795_392_000_000;
        for (var day = 0; day < 70; day++)
        {
            var ms = StartMs + (day * 86_400_000L);
            MetricValue[] metrics = [new("distance_m", 8000), new("duration_s", 2700), new("impact_g", 8 + (day * 0.01))];
            Dictionary<int, double>? kmByDay = null;
            WearAssessor.ApplyReading(state, new ReadingRecord(ms, 0, metrics.Length), metrics, ref kmByDay);
            WearAssessor.Assess(state, model, DateTimeOffset.FromUnixTimeMilliseconds(ms));
            Assert.True(state.Wear!.RemainingKm is >= 0 && double.IsFinite(state.Wear.RemainingKm.Value), $"day {day}: {state.Wear.RemainingKm}");
            Assert.True(state.Wear.RemainingP10 <= state.Wear.RemainingKm + 1 && state.Wear.RemainingKm <= state.Wear.RemainingP90 + 1);
        }

        Assert.Equal(10, state.ShoeUsage.History.Count);
        Assert.Equal(9, state.ShoeUsage.History.LastWeek);
    }


    [Fact]
    public void ADeepCopiedTwin_SharesNoHistory_KeepsItsClock_AndScoresAlike()
    {
        var model = _models.Load();
        var copier = Services.GetRequiredService<DeepCopier>();
        var state = NewBand();
        const long StartMs = 1_795_392_000_000;
        for (var week = 0; week < 5; week++)
        {
            var ms = StartMs + (week * WearHistory.WeekMs);
            Charge(state, ms, 8 * week, 300 * (1 - (0.002 * 8 * week)));
            WearAssessor.Assess(state, model, DateTimeOffset.FromUnixTimeMilliseconds(ms));
        }

        Assert.NotNull(state.BandUsage.History.Cached);
        var copy = copier.Copy(state);

        Assert.NotSame(state.BandUsage.History, copy.BandUsage.History);
        Assert.Null(copy.BandUsage.History.Cached);
        Assert.Equal(state.BandUsage.History.Ages, copy.BandUsage.History.Ages);
        Assert.Equal(state.BandUsage.History.Progress, copy.BandUsage.History.Progress);
        Assert.Equal((state.BandUsage.History.Week, state.BandUsage.History.LastWeek), (copy.BandUsage.History.Week, copy.BandUsage.History.LastWeek));

        // The same week: the copy refits the same history and gets the same answer; no point is added to either.
        WearAssessor.Assess(state, model, DateTimeOffset.FromUnixTimeMilliseconds(StartMs + (4 * WearHistory.WeekMs)));
        WearAssessor.Assess(copy, model, DateTimeOffset.FromUnixTimeMilliseconds(StartMs + (4 * WearHistory.WeekMs)));
        Assert.Equal(state.Wear!.RemainingCycles, copy.Wear!.RemainingCycles);
        Assert.Equal(5, copy.BandUsage.History.Count);

        // The copy moves on alone.
        var ms5 = StartMs + (5 * WearHistory.WeekMs);
        Charge(copy, ms5, 40, 300 * (1 - (0.002 * 40)));
        WearAssessor.Assess(copy, model, DateTimeOffset.FromUnixTimeMilliseconds(ms5));
        Assert.Equal(6, copy.BandUsage.History.Count);
        Assert.Equal(5, state.BandUsage.History.Count);
        Assert.NotSame(state.BandUsage.History.Cached, copy.BandUsage.History.Cached);
    }

    [Fact]
    public void AModelReloadedWithOtherCurves_WithinAWeek_ServesItsOwnFit_NotTheCachedOne()
    {
        var before = _models.Load();
        var history = History([(10, 0.1), (20, 0.2), (30, 0.3), (40, 0.4)]);
        history.Week = 4;
        var input = Band(50, 90);
        var old = before.EstimateBand(input, history).RemainingCycles;

        // The same week, a model whose population lives twice as long.
        DegradationCurve.Curve[] longer = [.. new[] { 160.0, 200, 240 }.Select(life => Linear(life))];
        var fit = LifeFit.From(longer, evidence: 0.3, memory: 0.7);
        _models.PatchBandReport(report =>
        {
            report["Curves"] = JsonSerializer.SerializeToNode(longer);
            report["Fit"] = JsonSerializer.SerializeToNode(fit);
        });
        var after = _models.Load();
        var reloaded = after.EstimateBand(input, history).RemainingCycles;

        Assert.Equal(5, history.Count);
        Assert.Equal(fit.PredictAll(longer, history.Ages, history.Trajectory())[^1].Rul, reloaded, 9);
        Assert.NotEqual(old, reloaded, 3);

        // And back: the first model fits again rather than taking the second's answer.
        Assert.Equal(old, before.EstimateBand(input, history).RemainingCycles, 9);
    }

    [Fact]
    public void ManyTwinsOnOneSharedModel_InParallel_GetWhatEachGetsAlone()
    {
        var model = _models.Load();
        const int Twins = 48;
        const int Weeks = 10;
        double Pace(int twin) => 0.6 + (twin % 7 * 0.15);

        double[,] Run(bool parallel)
        {
            var results = new double[Twins, Weeks * 3];
            var histories = Enumerable.Range(0, Twins).Select(_ => new WearHistory()).ToArray();
            void One(int twin)
            {
                for (var step = 0; step < Weeks * 3; step++)
                {
                    histories[twin].Week = step / 3;
                    var cycles = step * 3.0;
                    results[twin, step] = model.EstimateBand(Band(cycles, 100 - Math.Min(20, cycles * 0.2 * Pace(twin))), histories[twin]).RemainingCycles;
                }
            }

            if (parallel)
            {
                Parallel.For(0, Twins, new ParallelOptions { MaxDegreeOfParallelism = 8 }, One);
            }
            else
            {
                for (var twin = 0; twin < Twins; twin++)
                {
                    One(twin);
                }
            }

            return results;
        }

        var alone = Run(parallel: false);
        var together = Run(parallel: true);
        for (var twin = 0; twin < Twins; twin++)
        {
            for (var step = 0; step < Weeks * 3; step++)
            {
                Assert.Equal(alone[twin, step], together[twin, step]);
                Assert.True(double.IsFinite(together[twin, step]) && together[twin, step] >= 0);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    private static DeviceState NewBand() =>
        new() { Birth = new DeviceBirth { Kind = "band", Model = "M1", Batch = "B1", Firmware = "1.0.0", RatedCapacityMah = 300 } };

    private static void Charge(DeviceState state, long ms, double cycles, double capacityMah)
    {
        MetricValue[] metrics = [new("charge_cycles", cycles), new("capacity_mah", capacityMah)];
        Dictionary<int, double>? kmByDay = null;
        WearAssessor.ApplyReading(state, new ReadingRecord(ms, 0, metrics.Length), metrics, ref kmByDay);
    }

    private static void AssertSane(in BandWearEstimate estimate, string what)
    {
        Assert.True(double.IsFinite(estimate.RemainingCycles) && estimate.RemainingCycles >= 0, $"{what}: remaining {estimate.RemainingCycles}");
        var (low, high) = (estimate.RemainingCyclesP10!.Value, estimate.RemainingCyclesP90!.Value);
        Assert.True(double.IsFinite(low) && double.IsFinite(high), $"{what}: interval {low}–{high}");
        Assert.True(low <= estimate.RemainingCycles && estimate.RemainingCycles <= high, $"{what}: {low} <= {estimate.RemainingCycles} <= {high}");
    }

    /// <summary>Scores a few band states, with and without a weekly history, and asserts each is finite, not negative
    /// and inside its interval.</summary>
    private static void AssertScoresSanely(LearnedWearModel model)
    {
        var history = new WearHistory();
        for (var week = 0; week < 8; week++)
        {
            history.Week = week;
            foreach (var (cycles, health) in new[] { (12.0 * week, 100 - (2.5 * week)), ((12.0 * week) + 3, 99.5 - (2.5 * week)) })
            {
                AssertSane(model.EstimateBand(Band(cycles, health), history), $"week {week} at {cycles} cycles");
                AssertSane(model.EstimateBand(Band(cycles, health)), $"no history, week {week}");
            }
        }

        AssertSane(model.EstimateBand(Band(0, 100)), "new");
        AssertSane(model.EstimateBand(Band(1e6, 80.5)), "very old");
    }

    /// <summary>A tampered report is either refused at load with an <see cref="InvalidDataException"/>, or scores sanely.</summary>
    private void AssertRefusedOrSane()
    {
        LearnedWearModel model;
        try
        {
            model = _models.Load();
        }
        catch (InvalidDataException e)
        {
            Assert.Contains("band-rul.json", e.Message, StringComparison.Ordinal);
            return;
        }

        AssertScoresSanely(model);
    }
}
