using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;

namespace Telemetry.UnitTests;

/// <summary>
/// A twin as the device grain leaves it, built only through the public API so the same code builds it against any
/// version of the models. A real device is a shoe or a band; this one is fed as both, so that every persisted model
/// type (the fault state with its signal histories and capacity trend, shoe usage, band usage) is non-empty, and
/// its signal histories are in both shapes: the humidity baseline still filling (a baseline list, no recent list),
/// impact and contact past it (a recent list, the baseline dropped).
/// </summary>
internal static class StoredTwinSample
{
    /// <summary>Device time of the first reading (Unix ms): 2026-11-01T06:00Z.</summary>
    public const long StartMs = 1_793_512_800_000;

    /// <summary>The time the sample's charge count is paid up to: a day after it started.</summary>
    public const long ChargeCountMs = StartMs + 86_400_000;

    /// <summary>The outbox incarnation in the fixture written once outboxes had one (b8080b5's twin has none).</summary>
    public static readonly Guid Incarnation = new("5e1f0c2a-7b3d-4e8f-9a61-2c4d6b8e0f13");

    public static DeviceState Create()
    {
        var state = new DeviceState
        {
            Birth = new DeviceBirth { Kind = "shoe", Model = "trail-2", Batch = "B-2026-10", Firmware = "1.4.0", WearerKg = 71.5 },
            FirstSeen = new DateTimeOffset(2026, 11, 1, 6, 0, 5, TimeSpan.Zero),
            LastSeen = new DateTimeOffset(2026, 11, 26, 7, 10, 0, TimeSpan.Zero),
            FirstReadingMs = StartMs,
            DistanceM = 152_300,
            DurationS = 49_100,
            Steps = 141_000,
            ChargeCycles = 64,
            Messages = 180,
            Readings = 175,
            RejectedReadings = 2,
            DuplicateMessages = 3,
        };

        // Impact and contact: 20 baseline readings, then recent ones that end in a delamination streak.
        for (var i = 0; i < 26; i++)
        {
            var failing = i >= 23;
            state.Faults.ObserveShoe(failing ? 14.0 + i * 0.1 : 8.0 + (i % 5) * 0.1, failing ? 330.0 + i : 250.0 + (i % 7));
            state.ShoeUsage.Observe(StartMs + (i * 86_400_000L), 5_800 + (i * 10), 1_850 + i, 8.0 + (i % 5) * 0.1, 12.5 + (i % 3));
        }

        // Humidity: fewer readings than its baseline, which is still filling.
        for (var i = 0; i < 30; i++)
        {
            state.Faults.ObserveBand(41.0 + (i % 4) * 0.5, null, null, null);
        }

        // Charge summaries: more than a trend's window, so both trends are full and have a fitted capacity.
        for (var i = 0; i < 64; i++)
        {
            var capacity = 410.0 - (i * 0.35) + (i % 3) * 0.2;
            state.BandUsage.ObserveTemperature(29.0 + (i % 5));
            state.BandUsage.Observe(StartMs + (i * 36_000_000L), i + 1, capacity, null);
            state.Faults.ObserveBand(null, i + 1, capacity, state.BandUsage.ReferenceMah);
        }

        state.LastReadingMs = StartMs + (63 * 36_000_000L);
        state.SetLastValue("impact_g", 16.5, 64);
        state.SetLastValue("contact_ms", 355, 64);
        state.SetLastValue("capacity_mah", 388.15, 64);

        // A resolved alert whose evidence names a metric: the same string instance as the last value's name above, so the
        // stored form refers back to it (fields 28 and 30, both after the model types' fields 25-27).
        var raised = new DateTimeOffset(2026, 11, 24, 7, 0, 0, TimeSpan.Zero);
        var alert = new OpenAlert("01JDELAM0000000000000000", "shoe.delamination", AlertSeverity.Warning, raised, "Midsole delamination suspected")
        {
            Evidence = [EvidenceItem.Of("impact_g", 16.5), EvidenceItem.Of("contact_ms", 355)],
            UpdatedAt = raised,
        };
        state.ClosedAlerts.Add(alert.Then(AlertState.Resolved, raised.AddHours(30), "ops@example.com", "insole replaced"));
        state.Outbox.EventCount = 2;
        return state;
    }

    /// <summary>
    /// The sample as a twin served by the curve fit leaves it: each usage with weekly points of its wear trajectory (the
    /// shoe's km and progress with a week skipped, as a shoe left in the cupboard would; the band's cycles since its
    /// reference and progress). No point is older than its usage, or a restore would drop it.
    /// </summary>
    public static DeviceState WithWearHistories(DeviceState state)
    {
        var (shoeWeek, bandWeek) = (state.ShoeUsage.History.Week, state.BandUsage.History.Week);
        foreach (var (week, km) in new[] { (0, 5.8), (1, 46.0), (3, 131.2) })
        {
            state.ShoeUsage.History.Week = week;
            state.ShoeUsage.History.Record(km, km / 800);
        }

        foreach (var (week, cycles) in new[] { (0, 17.0), (1, 34.0), (2, 51.0), (3, 63.0) })
        {
            state.BandUsage.History.Week = week;
            state.BandUsage.History.Record(cycles, cycles / 1_000);
        }

        (state.ShoeUsage.History.Week, state.BandUsage.History.Week) = (shoeWeek, bandWeek);
        return state;
    }

    /// <summary>The twin with the weekly rows a brand's own band model reads (<see cref="DeviceState.OwnRun"/>): three rows
    /// and an open week.</summary>
    public static DeviceState WithOwnRun(DeviceState state)
    {
        var run = new Telemetry.Models.Rul.WeeklyRun(shoe: false, ["capacity_mah", "temp_c"], head: 10, tail: 16);
        foreach (var (cycles, mah) in new[] { (10.0, 299.5), (20.0, 298.25), (30.0, 297.0) })
        {
            run.Observe("charge_cycles", cycles);
            run.Observe("capacity_mah", mah);
            run.Observe("temp_c", 31.5);
            run.CloseWeek(null, 300);
            run.Week++;
        }

        run.Observe("charge_cycles", 34);
        run.Observe("capacity_mah", 296.5);
        state.OwnRun = run;
        return state;
    }
}
