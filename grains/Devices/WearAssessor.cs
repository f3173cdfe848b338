using Telemetry.Grains.Alerts;
using Telemetry.Grains.Ingest;
using Telemetry.Models.Learning;
using Telemetry.Models.Rul;
using Telemetry.Models.Wear;

namespace Telemetry.Grains.Devices;

/// <summary>
/// A device's usage and wear: each reading adds to the twin's totals and to the usage the wear models read (the same
/// code builds their training data), and once a round the model estimates the wear and the remaining life that the
/// twin shows and its alert ladder reads.
/// </summary>
internal static class WearAssessor
{
    /// <summary>The alert family of a shoe's cushioning ladder (<see cref="AlertLadder.Cushioning"/>).</summary>
    public const string CushioningFamily = "cushioning";

    /// <summary>The alert family of a band's battery-health ladder (<see cref="AlertLadder.Battery"/>).</summary>
    public const string BatteryFamily = "battery";

    /// <summary>Distinct metric names kept in the twin's last values: firmware may add metrics, a
    /// misbehaving one must not grow the state without bound.</summary>
    public const int MaxTrackedMetrics = 64;

    /// <summary>
    /// Adds one accepted reading to the twin: counts, totals, last values and the wear models' usage, and its distance
    /// to <paramref name="kmByDay"/> (kilometres per Unix day, created on the first distance), and to the twin's weekly
    /// rows when <paramref name="own"/> serves its kind and the rows started when it was new (without a model, rows kept
    /// before are dropped). Returns what the fault detector reads of it.
    /// </summary>
    public static FaultSignals ApplyReading(DeviceState state, in ReadingRecord reading, MetricValue[] metrics, ref Dictionary<int, double>? kmByDay, OwnRulModel? own = null)
    {
        state.Readings++;
        double? impact = null, contact = null, humidity = null, cycles = null, capacity = null, distance = null, duration = null;
        double? midsoleTemp = null, bandTemp = null;
        var chargeCountIgnored = false;
        state.FirstReadingMs = state.FirstReadingMs is { } first ? Math.Min(first, reading.TimestampMs) : reading.TimestampMs;
        state.LastReadingMs = state.LastReadingMs is { } last ? Math.Max(last, reading.TimestampMs) : reading.TimestampMs;
        var (kmBefore, cyclesBefore) = (state.DistanceM / 1000, state.ChargeCycles);

        foreach (var (name, value) in metrics.AsSpan(reading.MetricStart, reading.MetricCount))
        {
            switch (name)
            {
                case "distance_m":
                    state.DistanceM += value;
                    var day = (int)Math.Floor(reading.TimestampMs / 86_400_000.0);
                    kmByDay ??= [];
                    kmByDay[day] = kmByDay.GetValueOrDefault(day) + (value / 1000);
                    distance = value;
                    break;
                case "duration_s":
                    state.DurationS += value;
                    duration = value;
                    break;
                case "steps":
                    state.Steps += (long)value;
                    break;
                case "charge_cycles":
                    var paid = state.ChargeCountMs ?? state.FirstReadingMs;
                    if (!ChargeCountPlausible(state.ChargeCycles, paid, state.Birth?.Manufactured, reading.TimestampMs, value))
                    {
                        // Not applied anywhere (counter, fault detector, weekly rows, last values); the reading's other values are.
                        chargeCountIgnored = true;
                        continue;
                    }

                    if (state.ChargeCycles is not { } counter)
                    {
                        (state.ChargeCycles, state.ChargeCountMs) = ((long)value, reading.TimestampMs);
                    }
                    else if ((long)value > counter)
                    {
                        (state.ChargeCycles, state.ChargeCountMs) = ((long)value, PaidAfter(paid, reading.TimestampMs, (long)value - counter));
                    }

                    cycles = value;
                    break;
                case "impact_g":
                    impact = value;
                    break;
                case "contact_ms":
                    contact = value;
                    break;
                case "humidity_pct":
                    humidity = value;
                    break;
                case "midsole_temp_c":
                    midsoleTemp = value;
                    break;
                case "temp_c":
                    bandTemp = value;
                    break;
                case "capacity_mah":
                    capacity = value;
                    break;
                default:
                    break;
            }

            state.SetLastValue(name, value, MaxTrackedMetrics);
        }

        if (distance is not null || impact is not null)
        {
            state.ShoeUsage.Observe(reading.TimestampMs, distance, duration, impact, midsoleTemp);
        }

        if (bandTemp is { } temperature)
        {
            state.BandUsage.ObserveTemperature(temperature);
        }

        if (cycles is { } c && capacity is { } mah)
        {
            state.BandUsage.Observe(reading.TimestampMs, c, mah, state.Birth?.RatedCapacityMah);
        }

        if (own is not null && own.Kind == state.Birth?.Kind)
        {
            if (OwnRunOf(state, own, reading.TimestampMs, kmBefore, cyclesBefore) is { FromNew: true } run)
            {
                foreach (var (name, value) in metrics.AsSpan(reading.MetricStart, reading.MetricCount))
                {
                    if (!(chargeCountIgnored && name == "charge_cycles"))
                    {
                        run.Observe(name, value);
                    }
                }
            }
        }
        else if (state.OwnRun is not null)
        {
            // No model serves this kind (any more): the settings say what a twin keeps, and rows nobody reads are dropped.
            state.OwnRun = null;
        }

        return new FaultSignals(impact, contact, humidity, cycles, capacity) { ChargeCountIgnored = chargeCountIgnored };
    }

    /// <summary>Time a band needs for an equivalent full cycle at the least: an hour of charging (24 a day).</summary>
    internal const long MsPerChargeCycle = 3_600_000;

    /// <summary>Charge cycles a count may be ahead of what time has paid for (a charge's summary and the samples around
    /// it, rounding).</summary>
    internal const double ChargeCycleSlack = 2;

    /// <summary>Most cycles time pays for in advance: 30 days at 24 a day, the longest a reading may be old. A band silent
    /// for longer that charged more than that in between is held back a day or so, while its allowance catches up.</summary>
    internal const double MaxChargeCycleCredit = 720;

    /// <summary>
    /// Whether a charge count can follow the twin's counter. Each rise is paid for in time, an hour a cycle: the counter
    /// is paid up to <paramref name="paidMs"/> (<see cref="DeviceState.ChargeCountMs"/>), and a count may run ahead by what
    /// the time since pays for (at most <see cref="MaxChargeCycleCredit"/>) plus <see cref="ChargeCycleSlack"/>. One absurd
    /// count (the uplink allows up to 1,000,000) would otherwise hold the counter, the alert texts and the weekly rows
    /// there for good, since the counter never goes back; and because rises use up the allowance, many small steps get
    /// no further than one big one. A real count never fails for long: the allowance grows 24 a day, however long the
    /// band was silent or its summaries lost. (A device clock set back delays that until it passes the paid-up time again,
    /// at most the 30 days a reading may be old.) The twin's first count is bounded only by the birth's manufacture date
    /// (24 a day since, when that date is not after the reading): a band in use joins with its count. A count at or below
    /// the counter is plausible (a late reading, a reset) and leaves the counter where it is.
    /// </summary>
    internal static bool ChargeCountPlausible(long? counter, long? paidMs, DateOnly? manufactured, long timestampMs, double value)
    {
        if (counter is not { } known)
        {
            if (manufactured is not { } made)
            {
                return true;
            }

            var madeMs = new DateTimeOffset(made.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToUnixTimeMilliseconds();
            return madeMs > timestampMs || value <= ChargeCycleSlack + ((timestampMs - (double)madeMs) / MsPerChargeCycle);
        }

        return value <= known || value - known <= Credit(paidMs, timestampMs);
    }

    /// <summary>Cycles the time from <paramref name="paidMs"/> to <paramref name="timestampMs"/> pays for, with the slack.</summary>
    private static double Credit(long? paidMs, long timestampMs) =>
        (paidMs is { } paid ? Math.Min(MaxChargeCycleCredit, (timestampMs - (double)paid) / MsPerChargeCycle) : 0) + ChargeCycleSlack;

    /// <summary>The paid-up time after a rise of <paramref name="rise"/> cycles at <paramref name="timestampMs"/>: credit
    /// beyond <see cref="MaxChargeCycleCredit"/> is not kept, and the rise is paid from what is left.</summary>
    internal static long PaidAfter(long? paidMs, long timestampMs, long rise) =>
        Math.Max(paidMs ?? timestampMs, timestampMs - (long)(MaxChargeCycleCredit * MsPerChargeCycle)) + (rise * MsPerChargeCycle);

    /// <summary>Most a device may be past new (km, charge cycles) when a model starts its rows for them to count as from
    /// new: the first rows of the files it was trained on are a week of use in.</summary>
    private const double NewKm = 5, NewCycles = 10;

    /// <summary>Weeks an open week may lie ahead of a reading's: readings are at most 30 days old (Uplink:MaxAge); further
    /// ahead is a damaged store, and the open week moves back to the reading's.</summary>
    private const int MaxWeeksBehind = 8;

    /// <summary>
    /// The twin's weekly rows for <paramref name="own"/>, in the week of a reading at <paramref name="timestampMs"/>: the
    /// open week is closed into a row when a reading of a later week arrives (a late reading joins the open week). A
    /// run kept for another model, or none, is started afresh in this week, from the km the twin had before the
    /// reading; it keeps rows only if the device is new (<see cref="NewKm"/>; for a band <see cref="NewCycles"/> at its
    /// first charge count): a model trained on whole lives would read a device in use as a new one.
    /// </summary>
    private static WeeklyRun OwnRunOf(DeviceState state, OwnRulModel own, long timestampMs, double kmBefore, long? cyclesBefore)
    {
        var week = WearHistory.WeekOf(state.FirstReadingMs ?? timestampMs, timestampMs);
        if (state.OwnRun is { } kept && !own.Fits(kept) && own.Reads(kept))
        {
            // The same columns with another window: the rows are kept (as many as the model reads), and so is whether
            // they are from new; a fleet in use is not sent back to the wear model by a retrained model.
            state.OwnRun = kept.Reshaped(own.Head, own.Tail);
        }

        if (state.OwnRun is not { } run || !own.Fits(run))
        {
            if (state.OwnRun is { FromNew: true, Count: 0 } renewed)
            {
                // A part replaced while the rows were another model's: the new part is new all the same.
                return state.OwnRun = own.NewRun(week, kmBefore, fromNew: true, renewed.Origin);
            }

            // A band's age is known at its first charge count: before it, the run starts as from new, and that count decides.
            var isNew = own.Kind == "shoe" ? kmBefore <= NewKm : (state.ChargeCycles ?? 0) <= NewCycles;
            return state.OwnRun = own.NewRun(week, kmBefore, isNew);
        }

        if (own.Kind == "band" && cyclesBefore is null && state.ChargeCycles > NewCycles && run is { FromNew: true, Count: 0, Origin: 0 })
        {
            // The twin's first charge count says the band was in use before its rows started.
            return state.OwnRun = own.NewRun(run.Week, kmBefore, fromNew: false);
        }

        if (week > run.Week)
        {
            run.CloseWeek(state.Birth?.WearerKg, state.Birth?.RatedCapacityMah);
            run.Week = week;
        }
        else if (run.Week - (long)week > MaxWeeksBehind)
        {
            run.Week = week;
        }

        return run;
    }

    /// <summary>The brand's own model's answer for this twin at <paramref name="age"/>, once its run (from new) has a row.</summary>
    private static RulEstimate? OwnEstimate(DeviceState state, OwnRulModel? own, string kind, double age) =>
        own is not null && own.Kind == kind && state.OwnRun is { FromNew: true } run && own.Fits(run) ? own.Estimate(run, age) : null;

    /// <summary>
    /// Estimates the device's wear with <paramref name="model"/> and records it in the twin (<see cref="DeviceState.Wear"/>).
    /// Returns the estimate as its alert ladder reads it, or null for a device with no wear to assess yet (no birth,
    /// another kind, a band before its first charge summary). Where <paramref name="own"/> serves the kind and has an
    /// answer, the remaining life and its interval are its own (the wear, and so the alert ladder's level, stay the
    /// model's), and the evidence names it and gives no drivers (the wear model's would explain another figure).
    /// </summary>
    public static WearAssessment? Assess(DeviceState state, IWearModel model, DateTimeOffset now, OwnRulModel? own = null)
    {
        switch (state.Birth?.Kind)
        {
            case "shoe":
            {
                var input = state.ShoeUsage.Input(state.Birth.WearerKg);
                var estimate = model.EstimateShoe(input, state.ShoeUsage.History);
                var served = OwnEstimate(state, own, "shoe", state.DistanceM / 1000);
                if (served is { } e)
                {
                    estimate = estimate with { RemainingKm = e.Rul, RemainingKmP10 = e.Low, RemainingKmP90 = e.High, ModelVersion = own!.Version };
                }

                var version = estimate.ModelVersion ?? model.Version;
                state.Wear = new WearSnapshot
                {
                    ModelVersion = version,
                    EstimatedAt = now,
                    CushioningPct = Math.Round(estimate.CushioningPct, 1),
                    RemainingKm = Math.Round(estimate.RemainingKm, 1),
                    RemainingP10 = estimate.RemainingKmP10 is { } lo ? Math.Round(lo) : null,
                    RemainingP90 = estimate.RemainingKmP90 is { } hi ? Math.Round(hi) : null,
                };
                return new WearAssessment(
                    CushioningFamily,
                    AlertLadder.Cushioning,
                    estimate.CushioningPct,
                    () => EvidenceBuilder.Shoe(state.DistanceM, input, estimate, version, served is null ? model : null),
                    (code, locale) => code switch
                    {
                        AlertCodes.ShoeReplaceNow => AlertTexts.ShoeReplaceNow(estimate.CushioningPct, locale),
                        _ => AlertTexts.ShoeReplaceSoon(estimate.CushioningPct, estimate.RemainingKm, input.WeeklyKm, locale),
                    });
            }

            case "band" when state.BandUsage.Input() is { } input:
            {
                var estimate = model.EstimateBand(input, state.BandUsage.History);
                var served = OwnEstimate(state, own, "band", state.ChargeCycles ?? 0);
                if (served is { } e)
                {
                    estimate = estimate with { RemainingCycles = e.Rul, RemainingCyclesP10 = e.Low, RemainingCyclesP90 = e.High, ModelVersion = own!.Version };
                }

                var version = estimate.ModelVersion ?? model.Version;
                state.Wear = new WearSnapshot
                {
                    ModelVersion = version,
                    EstimatedAt = now,
                    BatteryHealthPct = Math.Round(estimate.HealthPct, 1),
                    RemainingCycles = double.IsFinite(estimate.RemainingCycles) ? Math.Round(estimate.RemainingCycles) : null,
                    RemainingP10 = estimate.RemainingCyclesP10 is { } lo ? Math.Round(lo) : null,
                    RemainingP90 = estimate.RemainingCyclesP90 is { } hi ? Math.Round(hi) : null,
                };
                return new WearAssessment(
                    BatteryFamily,
                    AlertLadder.Battery,
                    estimate.HealthPct,
                    () => EvidenceBuilder.Band(state.ChargeCycles, input, estimate, version, served is null ? model : null),
                    (_, locale) => AlertTexts.BandBatteryDegraded(estimate.HealthPct, state.ChargeCycles, locale));
            }

            default:
                return null;
        }
    }
}
