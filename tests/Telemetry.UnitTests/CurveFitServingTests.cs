using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Models.Learning;
using Telemetry.Models.Rul;
using Telemetry.Models.Wear;
using Xunit;
using static Telemetry.UnitTests.CurveFitModels;

namespace Telemetry.UnitTests;

/// <summary>
/// The curve fit served to device twins: the weekly history a twin keeps (<see cref="WearHistory"/>), the remaining
/// cycles a band model trained to the curve fit takes from it, and the history surviving the twin's store.
/// </summary>
public sealed class CurveFitServingTests : IDisposable
{
    private readonly CurveFitModels _models = new();

    public void Dispose() => _models.Dispose();

    [Fact]
    public void History_TakesOnePointAWeek_AgeNeverGoesBack_AndKeepsTheNewest48()
    {
        var history = new WearHistory();
        history.Week = 0;
        Assert.True(history.Record(10, 0.1));
        Assert.False(history.Record(12, 0.2)); // the same week: its first estimate is its point
        history.Week = 2;
        Assert.True(history.Record(9, 0.05)); // a counter that went back: the age does not; progress is as measured
        Assert.Equal([10.0, 10.0, 10.0], history.Ages); // week 1, which had no estimate, in between
        Assert.Equal([0.1, 0.075, 0.05], history.Progress.Select(p => Math.Round(p, 9)));
        Assert.Equal(2, history.LastWeek);
        history.Week = 3;
        Assert.False(history.Record(double.NaN, 0.3));
        Assert.False(history.Record(20, double.NaN));
        Assert.True(history.Record(double.MaxValue, 7)); // clamped to the limit; the age is what it is
        Assert.Equal(1, history.Progress[^1]);

        for (var week = 4; week < 200; week++)
        {
            history.Week = week;
            history.Record(week, 1);
        }

        Assert.Equal(WearHistory.MaxPoints, history.Count);
        Assert.Equal(199, history.LastWeek);
    }

    [Fact]
    public void History_Restored_DropsPointsThatCouldNotHaveBeenRecorded()
    {
        var ages = new[] { 1.0, double.NaN, 3, 2, 5, 6, 7 };
        var progress = new[] { 0.1, 0.2, 0.3, 0.4, 1.5, 0.2, 0.6 };

        var history = WearHistory.Restore(ages, progress, lastWeek: 9);

        // NaN age, an age going back and progress above 1 are left out; progress may go back (a glitch, a recovery).
        Assert.Equal([1.0, 3, 6, 7], history.Ages);
        Assert.Equal([0.1, 0.3, 0.2, 0.6], history.Progress);
        Assert.Equal(9, history.LastWeek);
        Assert.Equal(WearHistory.MaxPoints, WearHistory.Restore([.. Enumerable.Range(0, 500).Select(i => (double)i)], [.. Enumerable.Repeat(0.5, 500)], 499).Count);
        Assert.Equal(0, WearHistory.Restore(null, [0.5], -7).Count);
        Assert.Equal(-1, WearHistory.Restore(null, null, -7).LastWeek);
    }

    [Fact]
    public void Trajectory_MovesAtMostATenthAWeek_SoAGlitchedWeekMisleadsLittle_AndSteadyWearIsLeftAsMeasured()
    {
        var history = History([(1, 0.10), (2, 0.12), (3, 1.0), (4, 0.14), (5, 0.15), (6, 0.0), (7, 0.18)]);

        Assert.Equal([0.10, 0.12, 0.22, 0.14, 0.15, 0.05, 0.15], history.Trajectory().Select(p => Math.Round(p, 9)));
        double[] steady = [0, 0.03, 0.07, 0.12, 0.2, 0.29];
        Assert.Equal(steady, WearHistory.Limited(steady));
        Assert.Empty(WearHistory.Limited([]));

        // A glitch in the first week does not set the start (the median of the first three does; the lower of two),
        // and a band that joins half-worn starts where it is.
        Assert.Equal([0.12, 0.1, 0.12, 0.14], WearHistory.Limited([1.0, 0.1, 0.12, 0.14]));
        Assert.Equal([0.1, 0.1], WearHistory.Limited([1.0, 0.1]));
        Assert.Equal([0.5, 0.51, 0.52], WearHistory.Limited([0.5, 0.51, 0.52]));
    }

    [Fact]
    public void WeeksWithoutAnEstimate_GetPointsInBetween_AsTheWeeklyTrainingExamplesHaveThem()
    {
        var history = History([(10, 0.1)]);
        history.Week = 3;
        Assert.True(history.Record(40, 0.4));

        Assert.Equal([10.0, 20, 30, 40], history.Ages.Select(a => Math.Round(a, 9)));
        Assert.Equal([0.1, 0.2, 0.3, 0.4], history.Progress.Select(p => Math.Round(p, 9)));
        Assert.Equal(3, history.LastWeek);

        // A year away fills only what is kept.
        history.Week = 200;
        Assert.True(history.Record(60, 0.5));
        Assert.Equal(WearHistory.MaxPoints, history.Count);
        Assert.Equal(60, history.Ages[^1]);
        Assert.True(history.Ages.Zip(history.Ages.Skip(1)).All(p => p.Second >= p.First));
    }

    [Fact]
    public void ANaNHealth_WithNoHistory_GetsThePopulationsLivesBeyondItsAge()
    {
        var model = _models.Load();

        var estimate = model.EstimateBand(Band(cycles: 10, healthPct: double.NaN), new WearHistory());

        // The lives are 80, 100 and 120 cycles: the median of what is left of them at 10 cycles.
        Assert.Equal(90, estimate.RemainingCycles, 6);
    }

    [Fact]
    public void ARestoredHistory_IsBoundedByItsUsage_SoAStoreAheadOfTheDeviceCannotFreezeOrEndIt()
    {
        var history = WearHistory.Restore([10.0, 20, 30, 1e300], [0.1, 0.2, 0.3, 0.9], lastWeek: int.MaxValue);

        history.Bound(week: 4, age: 30.000001);

        Assert.Equal([10.0, 20, 30], history.Ages);
        Assert.Equal(4, history.LastWeek);
        history.Week = 5;
        Assert.True(history.Record(35, 0.35));
    }

    [Fact]
    public void UsageClock_IsTheWeekOfTheNewestReading_AndNeverNegative()
    {
        var shoe = new ShoeUsage();
        shoe.Observe(1_000_000_000_000, 5000, 1500, 8);
        shoe.Observe(1_000_000_000_000 + (15 * 86_400_000L), 5000, 1500, 8);
        Assert.Equal(2, shoe.History.Week);

        var band = new BandUsage();
        band.Observe(1_000_000_000_000, 10, 300, 300);
        band.Observe(1_000_000_000_000 - (30 * 86_400_000L), 11, 299, 300); // a clock set back
        Assert.Equal(0, band.History.Week);
        Assert.Equal(0, WearHistory.WeekOf(0, long.MinValue));
        Assert.Equal(int.MaxValue, WearHistory.WeekOf(long.MinValue, long.MaxValue));
    }

    [Fact]
    public void ABandModelTrainedToTheCurveFit_TakesTheRemainingCyclesFromTheTwinsHistory()
    {
        var model = _models.Load();
        var input = Band(cycles: 50, healthPct: 90); // progress 0.5 at 50 cycles: the middle curve's pace

        // Two twins in the same state now: one that was always ahead of this point's pace, one that was far behind it.
        var fast = History([(10, 0.2), (20, 0.3), (30, 0.4), (40, 0.5)]);
        var slow = History([(10, 0.05), (20, 0.1), (30, 0.15), (40, 0.2)]);
        fast.Week = slow.Week = 4;
        var fromFast = model.EstimateBand(input, fast);
        var fromSlow = model.EstimateBand(input, slow);

        // Each is the fit of its own history with this week's point added, as train measured it.
        Assert.Equal(5, fast.Count);
        Assert.Equal((50.0, 0.5), (fast.Ages[^1], fast.Progress[^1]));
        Assert.Equal(Fit.PredictAll(Population, fast.Ages, fast.Trajectory())[^1].Rul, fromFast.RemainingCycles, 9);
        Assert.Equal(Fit.PredictAll(Population, slow.Ages, slow.Trajectory())[^1].Rul, fromSlow.RemainingCycles, 9);
        Assert.True(Math.Abs(fromFast.RemainingCycles - fromSlow.RemainingCycles) > 1, $"{fromFast.RemainingCycles} against {fromSlow.RemainingCycles}");
        Assert.NotEqual(model.EstimateBand(input).RemainingCycles, fromFast.RemainingCycles, 3); // without a history: this point alone
        Assert.InRange(fromFast.RemainingCycles, fromFast.RemainingCyclesP10!.Value, fromFast.RemainingCyclesP90!.Value);
        Assert.Equal("band-fasttree-1", fromFast.ModelVersion);
    }

    [Fact]
    public void WithinAWeek_TheLastFitIsKept_LessTheCyclesUsedSince_AndANewWeekFitsAgain()
    {
        var model = _models.Load();
        var history = History([(10, 0.1), (20, 0.2), (30, 0.3), (40, 0.4)]);
        history.Week = 4;
        var first = model.EstimateBand(Band(cycles: 50, healthPct: 90), history).RemainingCycles;

        var later = model.EstimateBand(Band(cycles: 53, healthPct: 89.5), history).RemainingCycles;
        Assert.Equal(5, history.Count);
        Assert.Equal(first - 3, later, 9);

        history.Week = 5;
        var nextWeek = model.EstimateBand(Band(cycles: 60, healthPct: 88), history).RemainingCycles;
        Assert.Equal(6, history.Count);
        Assert.Equal(Fit.PredictAll(Population, history.Ages, history.Trajectory())[^1].Rul, nextWeek, 9);

        // At the limit nothing is left, whatever the last fit said.
        history.Week = 6;
        Assert.Equal(0, model.EstimateBand(Band(cycles: 61, healthPct: 79), history).RemainingCycles);
    }

    [Fact]
    public void ATwinServedByTheCurveFit_KeepsItsWeeklyHistory_ThroughTheStore()
    {
        var model = _models.Load();
        var state = new DeviceState { Birth = new DeviceBirth { Kind = "band", Model = "M1", Batch = "B1", Firmware = "1.0.0", RatedCapacityMah = 300 } };
        const long StartMs = 1_795_392_000_000;
        var now = DateTimeOffset.FromUnixTimeMilliseconds(StartMs);
        for (var day = 0; day < 42; day += 2)
        {
            // A charge summary every other day, 1.2 cycles a day and 0.1% of health a cycle; the twin assesses after each.
            var cycles = 1.2 * day;
            MetricValue[] metrics = [new("charge_cycles", cycles), new("capacity_mah", 300 * (1 - (0.001 * cycles)))];
            Dictionary<int, double>? kmByDay = null;
            WearAssessor.ApplyReading(state, new ReadingRecord(StartMs + (day * 86_400_000L), 0, metrics.Length), metrics, ref kmByDay);
            WearAssessor.Assess(state, model, now.AddDays(day));
        }

        var history = state.BandUsage.History;
        Assert.Equal(6, history.Count); // weeks 0 to 5
        Assert.Equal(5, history.LastWeek);
        Assert.Equal(Math.Round(Fit.PredictAll(Population, history.Ages, history.Trajectory())[^1].Rul - (state.BandUsage.Cycles - history.Ages[^1])), state.Wear!.RemainingCycles);

        var serializer = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(DeviceState).Assembly)).BuildServiceProvider().GetRequiredService<Serializer>();
        var loaded = serializer.Deserialize<DeviceState>(serializer.SerializeToArray(state))!;
        Assert.Equal(history.Ages, loaded.BandUsage.History.Ages);
        Assert.Equal((5, 5), (loaded.BandUsage.History.LastWeek, loaded.BandUsage.History.Week));
        var remaining = state.Wear.RemainingCycles;
        WearAssessor.Assess(loaded, model, now.AddDays(41));
        Assert.Equal(remaining, loaded.Wear!.RemainingCycles);
        Assert.Equal(6, loaded.BandUsage.History.Count);
    }

    [Fact]
    public void ATwinServedByAnotherMethod_KeepsNoHistory_AndStoresNone()
    {
        var state = new DeviceState { Birth = new DeviceBirth { Kind = "band", Model = "M1", Batch = "B1", Firmware = "1.0.0", RatedCapacityMah = 300 } };
        MetricValue[] metrics = [new("charge_cycles", 10), new("capacity_mah", 299)];
        Dictionary<int, double>? kmByDay = null;
        WearAssessor.ApplyReading(state, new ReadingRecord(1_795_392_000_000, 0, metrics.Length), metrics, ref kmByDay);

        WearAssessor.Assess(state, LearnedWearModel.Load(LearnedWearModel.DefaultDirectory), DateTimeOffset.UnixEpoch);

        Assert.Equal((0, -1), (state.BandUsage.History.Count, state.BandUsage.History.LastWeek));
    }

    [Theory]
    [InlineData("""{"Method":"curve fit"}""", "curve fit")]
    [InlineData("""{"Method":"curve fit","Fit":{"Spread":0.1,"LogSpread":0.2,"Evidence":0.3,"Memory":1.5}}""", "curve fit")]
    [InlineData("""{"Method":"curve fit","Fit":{"Spread":0.1,"LogSpread":0.2,"Evidence":-1,"Memory":0.7}}""", "curve fit")]
    [InlineData("""{"Method":"curve fit","Curves":[]}""", "curve fit")]
    [InlineData("""{"Method":"neural"}""", "neural")]
    public void AReportThatCannotBeScored_IsRefusedAtLoad_NamingTheMethod(string patch, string named)
    {
        _models.PatchBandReport(report =>
        {
            report.Remove("Fit");
            foreach (var (key, value) in JsonNode.Parse(patch)!.AsObject())
            {
                report[key] = value?.DeepClone();
            }
        });

        var error = Assert.Throws<InvalidDataException>(() => _models.Load());

        Assert.Contains($"method '{named}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("band-rul.json", error.Message, StringComparison.Ordinal);
    }
}
