namespace Telemetry.Models.Simulation;

/// <summary>
/// Builds a reproducible fleet: the same seed gives the same devices, profiles and readings, so the live
/// demo, training data and tests agree. Half the fleet are shoes and half bands.
/// </summary>
public static class FleetGenerator
{
    private static readonly string[] ShoeModels = ["aerorun-3", "trailpro-2"];
    private static readonly string[] BandModels = ["pulse-s", "pulse-pro"];
    private static readonly string[] Batches = ["2025w28-sz2", "2025w35-sz1", "2025w41-sz3", "2026w02-sz1"];

    /// <summary>The batch that comes out defective in a generated fleet (one per kind), unless told otherwise.</summary>
    public const string DefectiveBatch = "2025w41-sz3";

    /// <summary>Creates <paramref name="count"/> devices named <c>shoe-00001</c>…, <c>band-00002</c>….</summary>
    public static IReadOnlyList<SimulatedDevice> Create(int count, int seed) => Create(count, seed, FleetFaults.Default);

    /// <summary>
    /// Creates a fleet with faults at the given rates: healthy batches at the normal rates of DOMAIN.md, the
    /// defective batch at bad-batch rates. Onsets fall within the device's first <see cref="FleetFaults.OnsetWithin"/>.
    /// </summary>
    public static IReadOnlyList<SimulatedDevice> Create(int count, int seed, FleetFaults faults)
    {
        var random = new Random(seed);
        var devices = new List<SimulatedDevice>(count);
        for (var i = 1; i <= count; i++)
        {
            var deviceSeed = random.Next();
            var batch = Batches[random.Next(Batches.Length)];
            var manufactured = new DateOnly(2025, 7, 1).AddDays(random.Next(200));
            var defective = batch == faults.DefectiveBatch;
            var draw = random.NextDouble();
            var onset = TimeSpan.FromDays(faults.OnsetWithin.TotalDays * (0.25 + (0.75 * random.NextDouble())));
            if (i % 2 == 1)
            {
                // Weekly distance is log-normal around 35 km (median recreational runner) with a long tail.
                var weeklyKm = Math.Clamp(35 * Math.Exp(0.6 * Normal(random)), 8, 160);
                var kg = Math.Round(Math.Clamp(72 + (12 * Normal(random)), 45, 120));
                var model = ShoeModels[random.Next(ShoeModels.Length)];
                var birth = new SimulatedBirth(DeviceKind.Shoe, model, batch, "1.4.2", manufactured, kg, null);
                var rates = defective ? faults.DefectiveShoe : faults.HealthyShoe;
                SimulatedFault? fault = draw < rates.Delamination ? new(FaultMode.Delamination, onset)
                    : draw < rates.Delamination + rates.Collapse ? new(FaultMode.PrematureCollapse, TimeSpan.Zero)
                    : null;
                devices.Add(new SimulatedShoe($"shoe-{i:D5}", birth, deviceSeed, weeklyKm, fault));
            }
            else
            {
                var model = BandModels[random.Next(BandModels.Length)];
                var rated = model == "pulse-pro" ? 420.0 : 300.0;
                var birth = new SimulatedBirth(DeviceKind.Band, model, batch, "2.0.7", manufactured, null, rated);
                // Bands already in service for up to about 20 months of daily charging.
                var initialCycles = random.NextDouble() * 600 * (faults.NewBands ? 0 : 1);
                var rates = defective ? faults.DefectiveBand : faults.HealthyBand;
                SimulatedFault? fault = draw < rates.BatteryFade ? new(FaultMode.EarlyBatteryFade, onset)
                    : draw < rates.BatteryFade + rates.WaterIngress ? new(FaultMode.WaterIngress, onset)
                    : draw < rates.BatteryFade + rates.WaterIngress + rates.HrSensor ? new(FaultMode.HrSensorDegradation, onset)
                    : null;
                devices.Add(new SimulatedBand($"band-{i:D5}", birth, deviceSeed, initialCycles, fault));
            }
        }

        return devices;
    }

    private static double Normal(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}

/// <summary>Shares of shoes that develop each fault.</summary>
public sealed record ShoeFaultRates(double Delamination, double Collapse);

/// <summary>Shares of bands that develop each fault.</summary>
public sealed record BandFaultRates(double BatteryFade, double WaterIngress, double HrSensor = 0);

/// <summary>How faulty a generated fleet is. Defaults: DOMAIN.md's normal yearly rates and bad-batch rates.</summary>
public sealed record FleetFaults
{
    public static FleetFaults Default { get; } = new();

    /// <summary>A fleet without faults.</summary>
    public static FleetFaults None { get; } = new()
    {
        HealthyShoe = new(0, 0),
        DefectiveShoe = new(0, 0),
        HealthyBand = new(0, 0, 0),
        DefectiveBand = new(0, 0, 0),
    };

    public string DefectiveBatch { get; init; } = FleetGenerator.DefectiveBatch;

    public ShoeFaultRates HealthyShoe { get; init; } = new(0.015, 0.01);

    public ShoeFaultRates DefectiveShoe { get; init; } = new(0.20, 0.10);

    public BandFaultRates HealthyBand { get; init; } = new(0.015, 0.0075, 0.01);

    public BandFaultRates DefectiveBand { get; init; } = new(0.12, 0.08, 0.05);

    /// <summary>
    /// True for bands that start new (0 charge cycles), as a run-to-failure history needs; by default they have been
    /// in service for up to about 600 cycles, as a live fleet has. The random draws are the same either way.
    /// </summary>
    public bool NewBands { get; init; }

    /// <summary>Faults begin between 25% and 100% of this time after a device starts. Default 120 days.</summary>
    public TimeSpan OnsetWithin { get; init; } = TimeSpan.FromDays(120);
}
