using System.Globalization;

namespace Telemetry.Models.Simulation;

/// <summary>
/// The generated fleet as a run-to-failure CSV, as a brand would export it from its own returns: one row per device
/// per week of use with the week's mean of every metric the device reports, until the device's true end of life
/// (shoes: 60% cushioning; bands: 80% capacity), which is its last row. Bands start new here, not part-way through
/// their life as in the live fleet, so that each history is a whole life. Devices still alive after
/// the simulated days are left out. It lets <c>train-rul</c> be judged on the simulator with the same commands as
/// on anyone's data: time is cumulative km (shoes) or charge cycles (bands). The rows are made by
/// <see cref="Rul.WeeklyRun"/>, which also keeps a twin's rows for a model train-rul learned from such a file.
/// </summary>
public static class RunToFailureExport
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly string[] ShoeColumns = ["impact_g", "contact_ms", "cadence_spm", "pronation_deg", "midsole_temp_c", "pace_s_per_km", "wearer_kg"];

    private static readonly string[] BandColumns = ["capacity_mah", "temp_c", "humidity_pct", "hr_snr_db", "battery_mv", "rated_mah"];

    /// <summary>Writes the devices of one kind that fail within the simulated time; returns how many were written and how many were still alive.</summary>
    public static (int Failed, int Alive) Write(string kind, int devices, int seed, int days, TextWriter writer)
    {
        var shoes = kind == "shoe";
        var columns = shoes ? ShoeColumns : BandColumns;
        writer.WriteLine($"device,{(shoes ? "km" : "cycles")},{string.Join(',', columns)}");
        var (failed, alive) = (0, 0);
        var readings = new List<SimulatedReading>();
        foreach (var device in FleetGenerator.Create(devices * 2, seed, FleetFaults.Default with { NewBands = true }).Where(d => shoes ? d is SimulatedShoe : d is SimulatedBand).Take(devices))
        {
            device.Start(Start);
            var rows = new List<string>();
            var run = new Rul.WeeklyRun(shoes, columns, head: 1, tail: 1);
            var ended = false;
            for (var day = 7; day <= days && !ended; day += 7)
            {
                readings.Clear();
                device.Advance(Start.AddDays(day), readings);
                foreach (var reading in readings)
                {
                    foreach (var (name, value) in reading.Metrics)
                    {
                        run.Observe(name, value);
                    }
                }

                if (run.CloseWeek(device.Birth.WearerKg, device.Birth.RatedCapacityMah) is { } time)
                {
                    rows.Add(string.Create(CultureInfo.InvariantCulture, $"{device.Id},{time:F1},{string.Join(',', run.Rows[^1].Select(v => v.ToString("G6", CultureInfo.InvariantCulture)))}"));
                }

                ended = device switch
                {
                    SimulatedShoe shoe => shoe.TrueRemainingKm <= 0,
                    SimulatedBand band => band.TrueRemainingCycles <= 0,
                    _ => true,
                };
            }

            if (ended && rows.Count >= 2)
            {
                rows.ForEach(writer.WriteLine);
                failed++;
            }
            else
            {
                alive++;
            }
        }

        return (failed, alive);
    }
}
