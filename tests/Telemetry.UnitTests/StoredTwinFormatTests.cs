using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Telemetry.Grains.Devices;
using Telemetry.Models.Faults;
using Telemetry.Models.Learning;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// The stored form of a twin's model state (fault detector, signal histories, capacity trend, shoe and band usage):
/// twins in the SQLite and Redis stores are Orleans binary, so the bytes written by b8080b5 (the fixture, written from
/// <see cref="StoredTwinSample"/> with the code of that commit) must read back with every field, private ones included,
/// and the same twin must still be written byte for byte alike.
/// </summary>
public sealed class StoredTwinFormatTests
{
    private static readonly IServiceProvider Services = new ServiceCollection()
        .AddSerializer(b => b.AddAssembly(typeof(DeviceState).Assembly))
        .BuildServiceProvider();

    private static readonly Serializer Serializer = Services.GetRequiredService<Serializer>();

    private static readonly DeepCopier Copier = Services.GetRequiredService<DeepCopier>();

    private static byte[] StoredByB8080b5() =>
        Convert.FromBase64String(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "device-state-b8080b5.b64")).Trim());

    /// <summary>The model types where the declared type is object, so each is written with its alias (a form no twin
    /// uses today, but the aliases belong to the format): written by b8080b5 from <see cref="StoredTwinSample"/> as
    /// <c>object[] { Faults, Faults.Impact, Faults.Capacity, ShoeUsage, BandUsage }</c>.</summary>
    private static byte[] StoredByNameByB8080b5() =>
        Convert.FromBase64String(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "model-state-by-name-b8080b5.b64")).Trim());

    private static T RoundTrip<T>(T value) => Serializer.Deserialize<T>(Serializer.SerializeToArray(value))!;

    [Fact]
    public void ATwinStoredByB8080b5_LoadsEveryModelField()
    {
        var expected = StoredTwinSample.Create();
        var loaded = Serializer.Deserialize<DeviceState>(StoredByB8080b5())!;

        // The sample is what it claims to be: both shapes of signal history, full trends, a streak, usage.
        Assert.Equal(30, loaded.Faults.Humidity.Baseline.Count);
        Assert.Null(loaded.Faults.Humidity.BaselineMedian);
        Assert.Empty(loaded.Faults.Humidity.Recent);
        Assert.Empty(loaded.Faults.Impact.Baseline);
        Assert.Equal(3, loaded.Faults.Impact.Recent.Count);
        Assert.Equal(2, loaded.Faults.DelaminationStreak);
        Assert.Equal(CapacityTrend.Window, loaded.Faults.Capacity.Cycles.Count);
        Assert.Equal(CapacityTrend.Window, loaded.BandUsage.Trend.Cycles.Count);
        Assert.NotNull(loaded.BandUsage.Trend.FittedPct);
        Assert.Equal(26, loaded.ShoeUsage.TemperatureCount);

        // A list not in use stays absent, not empty: the baseline dropped once summarised, the recent one not yet created.
        Assert.Null(loaded.Faults.Impact.StoredBaseline);
        Assert.Null(loaded.Faults.Humidity.StoredRecent);

        AssertSameFaults(expected.Faults, loaded.Faults);
        AssertSameShoeUsage(expected.ShoeUsage, loaded.ShoeUsage);
        AssertSameBandUsage(expected.BandUsage, loaded.BandUsage);

        // The fields around them, including a name stored after them as a reference back to an earlier copy.
        Assert.Equal(expected.Birth, loaded.Birth);
        Assert.Equal((expected.FirstSeen, expected.LastSeen, expected.FirstReadingMs, expected.LastReadingMs), (loaded.FirstSeen, loaded.LastSeen, loaded.FirstReadingMs, loaded.LastReadingMs));
        Assert.Equal((180L, 175L, 2L, 3L), (loaded.Messages, loaded.Readings, loaded.RejectedReadings, loaded.DuplicateMessages));
        Assert.Equal(expected.LastValues.ToArray(), loaded.LastValues.ToArray());
        var closed = Assert.Single(loaded.ClosedAlerts);
        Assert.Equal(["impact_g", "contact_ms"], closed.Evidence.Select(e => e.Key));
        Assert.Equal(expected.ClosedAlerts[0].History, closed.History);
        Assert.Equal(2, loaded.Outbox.EventCount);
    }

    /// <summary>
    /// What b8080b5 wrote is still what is written, but for the fields added since: the outbox incarnation (its header
    /// and 16 bytes), the birth's and the alert's locale, the shoe's and band's wear history, the own model's weekly
    /// rows and the time the charge count last rose, each a 2-byte null field when absent. Orleans numbers the objects it writes, so a field put in shifts later bytes too: the fixtures
    /// pin the format, this pins its size.
    /// </summary>
    [Fact]
    public void TheSampleTwin_IsWrittenAsB8080b5WroteIt_ButForTheFieldsAddedSince()
    {
        var old = StoredByB8080b5();
        var now = Serializer.SerializeToArray(StoredTwinSample.Create());

        Assert.Equal(old.Length + 18 + 4 + 4 + 2 + 2, now.Length);
        Assert.Equal(Guid.Empty, Serializer.Deserialize<DeviceState>(old)!.Outbox.Incarnation);
    }

    /// <summary>The twin as eefaa93 wrote it, with an outbox incarnation and before locales: it loads with its incarnation
    /// and no locale (its alerts were raised in English), and today's writing adds only the two null locales, the two
    /// absent wear histories, the absent own rows and the absent charge count's time.</summary>
    [Fact]
    public void ATwinStoredWithAnIncarnationBeforeLocales_LoadsWithoutLocales_AndIsWrittenAlikeButForThem()
    {
        var stored = Convert.FromBase64String(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "device-state-outbox-incarnation.b64")).Trim());
        var state = StoredTwinSample.Create();
        state.Outbox.Incarnation = StoredTwinSample.Incarnation;

        var loaded = Serializer.Deserialize<DeviceState>(stored)!;
        Assert.Equal(StoredTwinSample.Incarnation, loaded.Outbox.Incarnation);
        Assert.Null(loaded.Birth!.Locale);
        Assert.Null(Assert.Single(loaded.ClosedAlerts).Locale);
        Assert.Equal(state.Birth, loaded.Birth);

        Assert.Equal(stored.Length + 4 + 4 + 2 + 2, Serializer.SerializeToArray(state).Length);
    }

    /// <summary>A twin born with <c>zh-CN</c> whose alert was raised in it, as f4446d0 wrote it (before wear histories):
    /// read back with both locales and empty wear histories, and written today with only the two absent histories, the
    /// absent own rows and the absent charge count's time added.</summary>
    [Fact]
    public void TheSampleTwinWithLocales_LoadsWithBoth_AndIsWrittenAlikeButForTheWearHistories()
    {
        var state = WithLocales(StoredTwinSample.Create());
        var stored = Convert.FromBase64String(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "device-state-alert-locales.b64")).Trim());

        var loaded = Serializer.Deserialize<DeviceState>(stored)!;
        Assert.Equal(("zh-CN", "zh-CN"), (loaded.Birth!.Locale, Assert.Single(loaded.ClosedAlerts).Locale));
        Assert.Equal(StoredTwinSample.Incarnation, loaded.Outbox.Incarnation);
        Assert.Equal((0, -1, 0, -1), (loaded.ShoeUsage.History.Count, loaded.ShoeUsage.History.LastWeek, loaded.BandUsage.History.Count, loaded.BandUsage.History.LastWeek));
        Assert.Equal(stored.Length + 4 + 2 + 2, Serializer.SerializeToArray(state).Length);
    }

    /// <summary>The twin of a device served by the curve fit, with its shoe's and band's weekly wear histories, as 525ec9e
    /// wrote it (before own rows): read back with every point, the week of the newest, and the week its usage is in now
    /// (not stored: from the usage's first and last readings), and written today with only the absent own rows and the
    /// absent charge count's time added.</summary>
    [Fact]
    public void ATwinWithWearHistories_LoadsEveryPoint_AndIsWrittenAlikeButForTheOwnRows()
    {
        var state = StoredTwinSample.WithWearHistories(WithLocales(StoredTwinSample.Create()));
        var stored = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "device-state-wear-history.b64")).Trim();

        Assert.Equal(Convert.FromBase64String(stored).Length + 2 + 2, Serializer.SerializeToArray(state).Length);
        var loaded = Serializer.Deserialize<DeviceState>(Convert.FromBase64String(stored))!;
        Assert.Equal([5.8, 46.0, 88.6, 131.2], loaded.ShoeUsage.History.Ages.Select(x => Math.Round(x, 9))); // week 2 in between
        Assert.Equal([4, 3], new[] { loaded.BandUsage.History.Count, loaded.BandUsage.History.LastWeek });
        AssertSameShoeUsage(state.ShoeUsage, loaded.ShoeUsage);
        AssertSameBandUsage(state.BandUsage, loaded.BandUsage);
        Assert.Equal(("zh-CN", "zh-CN"), (loaded.Birth!.Locale, Assert.Single(loaded.ClosedAlerts).Locale));
    }

    private static DeviceState WithLocales(DeviceState state)
    {
        state.Outbox.Incarnation = StoredTwinSample.Incarnation;
        state.Birth = state.Birth! with { Locale = Telemetry.Grains.Alerts.AlertLocales.ZhCn };
        state.ClosedAlerts[0] = state.ClosedAlerts[0] with { Locale = Telemetry.Grains.Alerts.AlertLocales.ZhCn };
        return state;
    }

    [Fact]
    public void ModelStateStoredByAlias_LoadsAsTheSameTypes_AndIsWrittenAlike()
    {
        var expected = StoredTwinSample.Create();
        var bytes = StoredByNameByB8080b5();
        var loaded = Serializer.Deserialize<object[]>(bytes)!;

        Assert.Equal(5, loaded.Length);
        var faults = Assert.IsType<DeviceFaultState>(loaded[0]);
        AssertSameFaults(expected.Faults, faults);
        Assert.Same(faults.Impact, Assert.IsType<SignalHistory>(loaded[1]));
        Assert.Same(faults.Capacity, Assert.IsType<CapacityTrend>(loaded[2]));
        AssertSameShoeUsage(expected.ShoeUsage, Assert.IsType<ShoeUsage>(loaded[3]));
        AssertSameBandUsage(expected.BandUsage, Assert.IsType<BandUsage>(loaded[4]));
        // Written alike but for the two usages' absent wear histories, 2 bytes each.
        Assert.Equal(bytes.Length + 4, Serializer.SerializeToArray(loaded).Length);
        foreach (var alias in new[] { "telemetry.device-fault-state", "telemetry.signal-history", "telemetry.capacity-trend", "telemetry.shoe-usage", "telemetry.band-usage" })
        {
            Assert.Contains(alias, System.Text.Encoding.Latin1.GetString(bytes), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ALoadedTwin_GoesOnExactlyAsTheOneThatWasStored()
    {
        var stored = StoredTwinSample.Create();
        var loaded = Serializer.Deserialize<DeviceState>(StoredByB8080b5())!;

        // Humidity finishes its baseline from the stored readings, then rises; capacity keeps fading.
        for (var i = 0; i < 30; i++)
        {
            var humidity = i < 25 ? 41.5 : 80.0;
            Assert.Equal(Describe(stored.Faults.ObserveBand(humidity, null, null, null)), Describe(loaded.Faults.ObserveBand(humidity, null, null, null)));
            Assert.Equal(Describe(stored.Faults.ObserveShoe(8.2, 252)), Describe(loaded.Faults.ObserveShoe(8.2, 252)));
            stored.BandUsage.Observe(StoredTwinSample.StartMs + (i * 3_600_000L), 65 + i, 380 - i, null);
            loaded.BandUsage.Observe(StoredTwinSample.StartMs + (i * 3_600_000L), 65 + i, 380 - i, null);
            stored.ShoeUsage.Observe(StoredTwinSample.StartMs + (i * 3_600_000L), 6_000, 1_900, 8.4);
            loaded.ShoeUsage.Observe(StoredTwinSample.StartMs + (i * 3_600_000L), 6_000, 1_900, 8.4);
        }

        Assert.Equal(stored.Faults.IngressStreak, loaded.Faults.IngressStreak);
        Assert.True(loaded.Faults.IngressStreak > 0);
        AssertSameFaults(stored.Faults, loaded.Faults);
        Assert.Equal(stored.BandUsage.Input(), loaded.BandUsage.Input());
        Assert.Equal(stored.ShoeUsage.Input(71.5), loaded.ShoeUsage.Input(71.5));
    }

    [Fact]
    public void EachModelType_SurvivesARoundTripAndADeepCopy_ThatSharesNothingMutable()
    {
        var sample = StoredTwinSample.Create();

        var history = sample.Faults.Impact;
        AssertSameHistory(history, RoundTrip(history));
        var filling = sample.Faults.Humidity;
        var fillingCopy = Copier.Copy(filling);
        AssertSameHistory(filling, fillingCopy);
        fillingCopy.Observe(99, FaultDetector.HumidityBaselineReadings, FaultDetector.RecentReadings, 1);
        Assert.Equal(30, filling.Baseline.Count);
        var historyCopy = Copier.Copy(history);
        AssertSameHistory(history, historyCopy);
        var recentBefore = history.Recent.ToArray();
        historyCopy.Observe(99, FaultDetector.BaselineReadings, FaultDetector.RecentReadings, 1);
        Assert.Equal(recentBefore, history.Recent);

        var trend = sample.Faults.Capacity;
        AssertSameTrend(trend, RoundTrip(trend));
        var trendCopy = Copier.Copy(trend);
        AssertSameTrend(trend, trendCopy);
        Assert.NotSame(trend.Cycles, trendCopy.Cycles);
        Assert.NotSame(trend.CapacityPct, trendCopy.CapacityPct);

        var faults = sample.Faults;
        AssertSameFaults(faults, RoundTrip(faults));
        var faultsCopy = Copier.Copy(faults);
        AssertSameFaults(faults, faultsCopy);
        Assert.NotSame(faults.Impact, faultsCopy.Impact);
        Assert.NotSame(faults.Capacity, faultsCopy.Capacity);

        var shoe = sample.ShoeUsage;
        AssertSameShoeUsage(shoe, RoundTrip(shoe));
        var shoeCopy = Copier.Copy(shoe);
        AssertSameShoeUsage(shoe, shoeCopy);
        Assert.NotSame(shoe, shoeCopy);

        var band = sample.BandUsage;
        AssertSameBandUsage(band, RoundTrip(band));
        var bandCopy = Copier.Copy(band);
        AssertSameBandUsage(band, bandCopy);
        Assert.NotSame(band.Trend, bandCopy.Trend);
        Assert.NotSame(band.Trend.Cycles, bandCopy.Trend.Cycles);

        // A wear history with points: a copy's new point is not the original's.
        var histories = StoredTwinSample.WithWearHistories(StoredTwinSample.Create());
        AssertSameShoeUsage(histories.ShoeUsage, RoundTrip(histories.ShoeUsage));
        var historyCopy2 = Copier.Copy(histories.BandUsage);
        AssertSameBandUsage(histories.BandUsage, historyCopy2);
        historyCopy2.History.Week = 4;
        Assert.True(historyCopy2.History.Record(80, 0.08));
        Assert.Equal(4, histories.BandUsage.History.Count);

        // The whole twin too, as a grain call within a silo would copy it.
        var twinCopy = Copier.Copy(sample);
        Assert.Equal(Serializer.SerializeToArray(sample), Serializer.SerializeToArray(twinCopy));
        Assert.NotSame(sample.Faults, twinCopy.Faults);
    }

    [Fact]
    public void AFreshTwin_RoundTripsWithItsModelStateUnset()
    {
        var fresh = new DeviceState();
        var bytes = Serializer.SerializeToArray(fresh);
        Assert.Equal(bytes, Serializer.SerializeToArray(Serializer.Deserialize<DeviceState>(bytes)!));

        // A shoe's fault state holds no humidity history or capacity trend, and does not gain one by a round trip.
        var shoe = new DeviceFaultState();
        shoe.ObserveShoe(8.1, 250);
        var shoeAgain = RoundTrip(shoe);
        Assert.Equal(shoe.Impact.Baseline, shoeAgain.StoredImpact!.Baseline);
        Assert.Null(shoeAgain.StoredHumidity);
        Assert.Null(shoeAgain.StoredCapacity);
        Assert.Null(Copier.Copy(shoe).StoredHumidity);

        var band = RoundTrip(new BandUsage());
        Assert.True(double.IsNaN(band.FirstCycles));
        Assert.Empty(band.Trend.Cycles);
        Assert.Null(band.Input());
    }

    private static string? Describe(FaultFinding? finding) =>
        finding is null ? null : $"{finding.Mode} {finding.Score:R} {string.Join(", ", finding.Evidence.Select(e => $"{e.Key}={e.Value:R}"))}";

    private static void AssertSameFaults(DeviceFaultState expected, DeviceFaultState actual)
    {
        AssertSameHistory(expected.Impact, actual.Impact);
        AssertSameHistory(expected.Contact, actual.Contact);
        AssertSameHistory(expected.Humidity, actual.Humidity);
        AssertSameTrend(expected.Capacity, actual.Capacity);
        Assert.Equal(expected.DelaminationStreak, actual.DelaminationStreak);
        Assert.Equal(expected.IngressStreak, actual.IngressStreak);
    }

    private static void AssertSameHistory(SignalHistory expected, SignalHistory actual)
    {
        Assert.Equal(expected.Baseline, actual.Baseline);
        Assert.Equal(expected.Recent, actual.Recent);
        Assert.Equal(expected.BaselineMedian, actual.BaselineMedian);
        Assert.Equal(expected.BaselineScale, actual.BaselineScale);
        Assert.Equal(expected.RecentMedian, actual.RecentMedian);
    }

    private static void AssertSameTrend(CapacityTrend expected, CapacityTrend actual)
    {
        Assert.Equal(expected.Cycles, actual.Cycles);
        Assert.Equal(expected.CapacityPct, actual.CapacityPct);
        Assert.Equal(expected.FittedPct, actual.FittedPct);
    }

    private static void AssertSameShoeUsage(ShoeUsage expected, ShoeUsage actual)
    {
        Assert.Equal(
            (expected.DistanceKm, expected.RunningSeconds, expected.KmWithDuration, expected.ImpactBaselineCount, expected.ImpactBaselineSum),
            (actual.DistanceKm, actual.RunningSeconds, actual.KmWithDuration, actual.ImpactBaselineCount, actual.ImpactBaselineSum));
        Assert.Equal(
            (expected.ImpactRecentG, expected.FirstMs, expected.LastMs, expected.TemperatureSum, expected.TemperatureCount),
            (actual.ImpactRecentG, actual.FirstMs, actual.LastMs, actual.TemperatureSum, actual.TemperatureCount));
        AssertSameWearHistory(expected.History, actual.History);
    }

    private static void AssertSameWearHistory(WearHistory expected, WearHistory actual)
    {
        Assert.Equal(expected.Ages, actual.Ages);
        Assert.Equal(expected.Progress, actual.Progress);
        Assert.Equal((expected.LastWeek, expected.Week), (actual.LastWeek, actual.Week));
    }

    private static void AssertSameBandUsage(BandUsage expected, BandUsage actual)
    {
        Assert.Equal(
            (expected.ReferenceMah, expected.ReferenceCycles, expected.SmoothedMah, expected.Cycles, expected.Samples, expected.LastFadePctPerCycle),
            (actual.ReferenceMah, actual.ReferenceCycles, actual.SmoothedMah, actual.Cycles, actual.Samples, actual.LastFadePctPerCycle));
        Assert.Equal(
            (expected.FirstMs, expected.LastMs, expected.FirstCycles, expected.TemperatureSum, expected.TemperatureCount),
            (actual.FirstMs, actual.LastMs, actual.FirstCycles, actual.TemperatureSum, actual.TemperatureCount));
        AssertSameTrend(expected.Trend, actual.Trend);
        AssertSameWearHistory(expected.History, actual.History);
    }

    /// <summary>The twin of a band served by a brand's own model, with its weekly rows and open week, as d75858a wrote it
    /// (before the charge count's time): read back with every row, the open week's sums and what its rows are of, and
    /// written today with only the absent charge count's time added.</summary>
    [Fact]
    public void ATwinWithOwnRows_LoadsEveryRow_AndIsWrittenAlikeButForTheChargeCountsTime()
    {
        var state = StoredTwinSample.WithOwnRun(StoredTwinSample.WithWearHistories(WithLocales(StoredTwinSample.Create())));
        var stored = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "device-state-own-run.b64")).Trim();

        Assert.Equal(Convert.FromBase64String(stored).Length + 2, Serializer.SerializeToArray(state).Length);
        var loaded = Serializer.Deserialize<DeviceState>(Convert.FromBase64String(stored))!;
        Assert.Null(loaded.ChargeCountMs);
        Assert.Equal(64, loaded.ChargeCycles);
        var run = loaded.OwnRun!;
        Assert.Equal((false, 10, 16, 3), (run.Shoe, run.Head, run.Tail, run.Week));
        Assert.Equal(["capacity_mah", "temp_c"], run.Columns);
        Assert.Equal([10.0, 20, 30], run.Times);
        Assert.Equal([[299.5, 31.5], [298.25, 31.5], [297.0, 31.5]], run.Rows);
        Assert.Equal((34.0, 296.5, 1, 0), (run.WeekCycles, run.Sums[0], run.Counts[0], run.Counts[1]));
    }

    /// <summary>The twin with the time its charge count last rose, written byte for byte as the fixture holds it, and read
    /// back with it.</summary>
    [Fact]
    public void ATwinWithTheChargeCountsTime_IsWrittenByteForByteAsTheFixtureHoldsIt()
    {
        var state = StoredTwinSample.WithOwnRun(StoredTwinSample.WithWearHistories(WithLocales(StoredTwinSample.Create())));
        state.ChargeCountMs = StoredTwinSample.ChargeCountMs;
        var stored = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "device-state-charge-count-ms.b64")).Trim();

        Assert.Equal(stored, Convert.ToBase64String(Serializer.SerializeToArray(state)));
        var loaded = Serializer.Deserialize<DeviceState>(Convert.FromBase64String(stored))!;
        Assert.Equal((64L, StoredTwinSample.ChargeCountMs), (loaded.ChargeCycles, loaded.ChargeCountMs));
        Assert.Equal(state.OwnRun!.Times, loaded.OwnRun!.Times);
    }
}
