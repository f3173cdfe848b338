using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Models.Wear;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>A reading's usage and the round's wear estimate, on a twin's state alone.</summary>
public sealed class WearAssessorTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_795_428_000_000);

    private const long Day0Ms = 1_795_392_000_000; // a midnight, UTC (Unix day 20780)

    private readonly List<MetricValue> _metrics = [];

    private static DeviceState Twin(string kind, double? ratedMah = null) => new()
    {
        Birth = new DeviceBirth { Kind = kind, Model = "M1", Batch = "B1", Firmware = "1.0.0", WearerKg = 72, RatedCapacityMah = ratedMah },
    };

    private ReadingRecord Reading(long timestampMs, params (string Name, double Value)[] metrics)
    {
        var start = _metrics.Count;
        _metrics.AddRange(metrics.Select(m => new MetricValue(m.Name, m.Value)));
        return new ReadingRecord(timestampMs, start, metrics.Length);
    }

    [Fact]
    public void ApplyReading_AddsTotalsUsageAndLastValues_AndKilometresPerDay()
    {
        var state = Twin("shoe");
        var first = Reading(Day0Ms + 3_600_000, ("distance_m", 5000), ("duration_s", 1500), ("steps", 4000), ("impact_g", 8.5), ("contact_ms", 250), ("my_metric", 3));
        var second = Reading(Day0Ms + 86_400_000 + 60_000, ("distance_m", 3000), ("impact_g", 9));
        Dictionary<int, double>? kmByDay = null;

        var signals = WearAssessor.ApplyReading(state, first, [.. _metrics], ref kmByDay);
        WearAssessor.ApplyReading(state, second, [.. _metrics], ref kmByDay);

        Assert.Equal(new FaultSignals(8.5, 250, null, null, null), signals);
        Assert.Equal((2L, 8000.0, 1500.0, 4000L), (state.Readings, state.DistanceM, state.DurationS, state.Steps));
        Assert.Equal((Day0Ms + 3_600_000, Day0Ms + 86_400_000 + 60_000), (state.FirstReadingMs, state.LastReadingMs));
        Assert.Equal(new Dictionary<int, double> { [20780] = 5, [20781] = 3 }, kmByDay);
        Assert.Equal(8, state.ShoeUsage.DistanceKm);
        Assert.Equal(2, state.ShoeUsage.ImpactBaselineCount);
        Assert.Equal(
            new Dictionary<string, double> { ["distance_m"] = 3000, ["duration_s"] = 1500, ["steps"] = 4000, ["impact_g"] = 9, ["contact_ms"] = 250, ["my_metric"] = 3 },
            state.LastValuesByName());
    }

    [Fact]
    public void ApplyReading_KeepsTheHighestChargeCycleCount_AndGivesTheBandsFaultSignals()
    {
        var state = Twin("band", ratedMah: 300);
        Dictionary<int, double>? kmByDay = null;
        var summary = Reading(Day0Ms, ("charge_cycles", 120), ("capacity_mah", 290), ("humidity_pct", 40), ("temp_c", 31));
        var older = Reading(Day0Ms + 1000, ("charge_cycles", 100), ("capacity_mah", 289));

        var signals = WearAssessor.ApplyReading(state, summary, [.. _metrics], ref kmByDay);
        WearAssessor.ApplyReading(state, older, [.. _metrics], ref kmByDay);

        Assert.Equal(new FaultSignals(null, null, 40, 120, 290), signals);
        Assert.Equal(120, state.ChargeCycles);
        Assert.Equal((300.0, 2, 1), (state.BandUsage.ReferenceMah!.Value, state.BandUsage.Samples, state.BandUsage.TemperatureCount));
        Assert.Null(kmByDay);
    }

    [Fact]
    public void ApplyReading_IgnoresAChargeCountFurtherAheadThanTimeAllows_AndAppliesTheRestOfTheReading()
    {
        // One absurd count (the uplink allows up to 1,000,000) would hold the counter there for good: it never goes back.
        var state = Twin("band", ratedMah: 300);
        Dictionary<int, double>? kmByDay = null;
        WearAssessor.ApplyReading(state, Reading(Day0Ms, ("charge_cycles", 120), ("capacity_mah", 290)), [.. _metrics], ref kmByDay);
        Assert.Equal((120L, Day0Ms), (state.ChargeCycles, state.ChargeCountMs));

        var absurd = WearAssessor.ApplyReading(state, Reading(Day0Ms + 3_600_000, ("charge_cycles", 1_000_000), ("capacity_mah", 289), ("humidity_pct", 41)), [.. _metrics], ref kmByDay);

        Assert.True(absurd.ChargeCountIgnored);
        Assert.Equal(new FaultSignals(null, null, 41, null, 289) { ChargeCountIgnored = true }, absurd);
        Assert.Equal((120L, Day0Ms), (state.ChargeCycles, state.ChargeCountMs));
        Assert.Equal(120, state.LastValuesByName()["charge_cycles"]);
        Assert.Equal(41, state.LastValuesByName()["humidity_pct"]);
        Assert.Equal((2L, Day0Ms + 3_600_000), (state.Readings, state.LastReadingMs));

        // The next real count goes on from the counter, its rise paid for an hour a cycle.
        var next = WearAssessor.ApplyReading(state, Reading(Day0Ms + 86_400_000, ("charge_cycles", 121), ("capacity_mah", 289)), [.. _metrics], ref kmByDay);
        Assert.False(next.ChargeCountIgnored);
        Assert.Equal((121L, Day0Ms + 3_600_000), (state.ChargeCycles, state.ChargeCountMs));
    }

    [Fact]
    public void ApplyReading_ManySmallStepsGetNoFurtherThanOneBigOne()
    {
        // 500 readings of one message, each 2 ahead of the last, all an hour after the counter rose: the hour pays for
        // one cycle and the slack for two, and each rise uses them up.
        var state = Twin("band", ratedMah: 300);
        Dictionary<int, double>? kmByDay = null;
        WearAssessor.ApplyReading(state, Reading(Day0Ms, ("charge_cycles", 120)), [.. _metrics], ref kmByDay);
        var ignored = 0;
        for (var step = 1; step <= 500; step++)
        {
            ignored += WearAssessor.ApplyReading(state, Reading(Day0Ms + 3_600_000, ("charge_cycles", 120 + (2 * step))), [.. _metrics], ref kmByDay).ChargeCountIgnored ? 1 : 0;
        }

        Assert.Equal(122, state.ChargeCycles);
        Assert.Equal(499, ignored);
        // A day on, a real count a cycle on passes.
        WearAssessor.ApplyReading(state, Reading(Day0Ms + 86_400_000, ("charge_cycles", 123)), [.. _metrics], ref kmByDay);
        Assert.Equal(123, state.ChargeCycles);
    }

    [Fact]
    public void ApplyReading_TakesARealCountAfterLongSilenceOrLostSummaries_AndATwinsFirstCountAsItComes()
    {
        var state = Twin("band", ratedMah: 300);
        Dictionary<int, double>? kmByDay = null;
        // A band in use joins with its count (the birth without a manufacture date bounds nothing).
        Assert.False(WearAssessor.ApplyReading(state, Reading(Day0Ms, ("charge_cycles", 640)), [.. _metrics], ref kmByDay).ChargeCountIgnored);
        // Thirty days of samples whose charge summaries were lost: the allowance grows with the time since the counter's
        // rises were paid for, not since the last reading.
        for (var hour = 1; hour <= 30 * 24; hour++)
        {
            WearAssessor.ApplyReading(state, Reading(Day0Ms + (hour * 3_600_000L), ("battery_pct", 50)), [.. _metrics], ref kmByDay);
        }

        Assert.False(WearAssessor.ApplyReading(state, Reading(Day0Ms + (30 * 86_400_000L) + 60_000, ("charge_cycles", 672)), [.. _metrics], ref kmByDay).ChargeCountIgnored);
        Assert.Equal(672, state.ChargeCycles);
    }

    [Fact]
    public void ApplyReading_BoundsATwinsFirstCount_ByTheBirthsManufactureDate()
    {
        var state = Twin("band", ratedMah: 300);
        state.Birth = state.Birth! with { Manufactured = DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(Day0Ms).UtcDateTime).AddDays(-10) };
        Dictionary<int, double>? kmByDay = null;

        // Ten days old: at most 240 cycles (and 2).
        Assert.True(WearAssessor.ApplyReading(state, Reading(Day0Ms, ("charge_cycles", 65_535)), [.. _metrics], ref kmByDay).ChargeCountIgnored);
        Assert.Null(state.ChargeCycles);
        Assert.False(WearAssessor.ApplyReading(state, Reading(Day0Ms, ("charge_cycles", 242)), [.. _metrics], ref kmByDay).ChargeCountIgnored);
        Assert.Equal(242, state.ChargeCycles);
    }

    [Fact]
    public void ApplyReading_BoundsATwinStoredBeforeThePaidUpTime_ByItsFirstReading_AndAReplacedBandLikewise()
    {
        // Stored before ChargeCountMs: the allowance runs from the twin's first reading, at most 720 cycles (30 days).
        var state = Twin("band", ratedMah: 300);
        (state.ChargeCycles, state.FirstReadingMs, state.LastReadingMs) = (500, Day0Ms - (100 * 86_400_000L), Day0Ms - 60_000);
        Dictionary<int, double>? kmByDay = null;

        Assert.True(WearAssessor.ApplyReading(state, Reading(Day0Ms, ("charge_cycles", 1_223)), [.. _metrics], ref kmByDay).ChargeCountIgnored);
        Assert.False(WearAssessor.ApplyReading(state, Reading(Day0Ms, ("charge_cycles", 1_200)), [.. _metrics], ref kmByDay).ChargeCountIgnored);
        // 720 cycles of credit kept of the 100 days', 700 of them used: paid up to 20 hours before the reading.
        Assert.Equal((1_200L, Day0Ms - (20 * 3_600_000L)), (state.ChargeCycles, state.ChargeCountMs));

        // A band replaced by another whose counter is well ahead: paid for from the twin's first reading again.
        PartReplacement.Replace(state, new AlertStepper("band-1", state), "band", DateTimeOffset.FromUnixTimeMilliseconds(Day0Ms), "shop-1", null, []);
        Assert.Null(state.ChargeCountMs);
        Assert.False(WearAssessor.ApplyReading(state, Reading(Day0Ms + 60_000, ("charge_cycles", 1_900)), [.. _metrics], ref kmByDay).ChargeCountIgnored);
    }

    private const long DayMs = 86_400_000;

    [Theory]
    [InlineData(null, null, null, 0, 1_000_000, true)] // the twin's first count, no manufacture date
    [InlineData(null, null, "1970-01-01", 10 * DayMs, 242, true)] // ten days after manufacture: 240 and 2
    [InlineData(null, null, "1970-01-01", 10 * DayMs, 243, false)]
    [InlineData(null, null, "1970-01-12", 10 * DayMs, 1_000_000, true)] // a manufacture date after the reading says nothing
    [InlineData(120L, 0L, null, 0, 120, true)]
    [InlineData(120L, 0L, null, 0, 3, true)] // below the counter: a late reading or a reset, left to the counter
    [InlineData(120L, 0L, null, 0, 122, true)] // the slack
    [InlineData(120L, 0L, null, 0, 123, false)]
    [InlineData(120L, 0L, null, 2 * DayMs, 170, true)] // 24 a day
    [InlineData(120L, 0L, null, 2 * DayMs, 171, false)]
    [InlineData(120L, 0L, null, 100 * DayMs, 842, true)] // at most 720 in advance
    [InlineData(120L, 0L, null, 100 * DayMs, 843, false)]
    [InlineData(120L, DayMs, null, 0, 122, false)] // a clock set back a day: a day's debt
    [InlineData(120L, 3_600_000L, null, 0, 121, true)] // an hour's: the slack less one
    [InlineData(120L, 3_600_000L, null, 0, 122, false)]
    [InlineData(120L, null, null, DayMs, 123, false)] // no time known: the slack only
    public void ChargeCountPlausible_PaysForEachCycleWithAnHour_PlusTwo(long? counter, long? paidMs, string? manufactured, long timestampMs, double value, bool plausible) =>
        Assert.Equal(plausible, WearAssessor.ChargeCountPlausible(counter, paidMs, manufactured is null ? null : DateOnly.Parse(manufactured, System.Globalization.CultureInfo.InvariantCulture), timestampMs, value));

    [Fact]
    public void Assess_Shoe_RecordsTheWearAndItsInterval_AndBuildsTheEvidenceOnlyWhenAsked()
    {
        var state = Twin("shoe");
        Dictionary<int, double>? kmByDay = null;
        WearAssessor.ApplyReading(state, Reading(Day0Ms, ("distance_m", 40_000), ("impact_g", 8)), [.. _metrics], ref kmByDay);
        var model = new FixedWearModel { Shoe = new ShoeWearEstimate(64.24, 112.66, 300, 1, 1.1, RemainingKmP10: 80.4, RemainingKmP90: 150.6) };

        var wear = WearAssessor.Assess(state, model, Now)!.Value;

        Assert.Equal(
            new WearSnapshot { ModelVersion = "fixed-1", EstimatedAt = Now, CushioningPct = 64.2, RemainingKm = 112.7, RemainingP10 = 80, RemainingP90 = 151 },
            state.Wear);
        Assert.Equal((WearAssessor.CushioningFamily, AlertLadder.Cushioning, 64.24), (wear.Family, wear.Ladder, wear.Value));
        Assert.Equal(AlertTexts.ShoeReplaceNow(64.24, AlertLocales.En), wear.RaisedText(AlertCodes.ShoeReplaceNow, AlertLocales.En));
        Assert.Equal(AlertTexts.ShoeReplaceSoon(64.24, 112.66, 40, AlertLocales.ZhCn), wear.RaisedText(AlertCodes.ShoeReplaceSoon, AlertLocales.ZhCn));
        Assert.Equal(0, model.Explanations);

        var evidence = wear.Evidence();

        Assert.Equal(1, model.Explanations);
        Assert.Equal(EvidenceItem.Of("distance_km", 40), evidence[0]);
        Assert.Contains(EvidenceItem.Of("remaining_km_p10", 80), evidence);
        Assert.Equal(EvidenceItem.Of("model_version", "fixed-1"), evidence[^1]);
    }

    [Fact]
    public void Assess_Band_TakesTheEstimatesOwnModelVersion_AndLeavesNoFiniteFigureOut()
    {
        var state = Twin("band", ratedMah: 300);
        Dictionary<int, double>? kmByDay = null;
        WearAssessor.ApplyReading(state, Reading(Day0Ms, ("charge_cycles", 410), ("capacity_mah", 231)), [.. _metrics], ref kmByDay);
        var model = new FixedWearModel { Band = new BandWearEstimate(77.04, double.PositiveInfinity, 0.05, ModelVersion: "band-rul-2") };

        var wear = WearAssessor.Assess(state, model, Now)!.Value;

        Assert.Equal(
            new WearSnapshot { ModelVersion = "band-rul-2", EstimatedAt = Now, BatteryHealthPct = 77, RemainingCycles = null },
            state.Wear);
        Assert.Equal((WearAssessor.BatteryFamily, AlertLadder.Battery, 77.04), (wear.Family, wear.Ladder, wear.Value));
        Assert.Equal(AlertTexts.BandBatteryDegraded(77.04, 410, AlertLocales.En), wear.RaisedText(AlertCodes.BandBatteryDegraded, AlertLocales.En));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("band")]
    [InlineData("scale")]
    public void Assess_WithNothingToAssess_RecordsNoWear(string? kind)
    {
        // A band before its first charge summary, a device without a birth, a kind without a wear model.
        var state = kind is null ? new DeviceState() : Twin(kind);

        Assert.Null(WearAssessor.Assess(state, new FixedWearModel(), Now));
        Assert.Null(state.Wear);
    }

    [Fact]
    public void TheRuleModel_RaisesAWarningThenACritical_AsAShoeRunsOnAndNeverRepeatsOne()
    {
        var state = Twin("shoe");
        var alerts = new AlertStepper("shoe-1", state);
        var events = new List<AlertEvent>();
        Dictionary<int, double>? kmByDay = null;
        var raisedAtKm = new Dictionary<string, double>();
        for (var day = 0; day < 25; day++)
        {
            // One 45 km outing a day, as the end-to-end tests drive a shoe across 70%.
            WearAssessor.ApplyReading(state, Reading(Day0Ms + (day * 86_400_000L), ("distance_m", 45_000)), [.. _metrics], ref kmByDay);
            var before = events.Count;
            alerts.Climb(WearAssessor.Assess(state, new RuleWearModel(), Now.AddDays(day))!.Value, Now.AddDays(day), events);
            foreach (var raised in events.Skip(before).Where(e => e.State == AlertState.Raised))
            {
                raisedAtKm[raised.Code] = state.DistanceM / 1000;
            }
        }

        Assert.Equal(
            new[] { (AlertCodes.ShoeReplaceSoon, AlertState.Raised), (AlertCodes.ShoeReplaceSoon, AlertState.Resolved), (AlertCodes.ShoeReplaceNow, AlertState.Raised) },
            events.Select(e => (e.Code, e.State)).ToArray());
        // Cook et al.: about 70% after some 180 km for a 72 kg runner, 60% at 800 km.
        Assert.InRange(raisedAtKm[AlertCodes.ShoeReplaceSoon], 135, 270);
        Assert.InRange(raisedAtKm[AlertCodes.ShoeReplaceNow], 765, 855);
        Assert.Equal(1, state.AlertLevel(WearAssessor.CushioningFamily));
    }
}
