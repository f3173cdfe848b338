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

    /// <summary>Creates <paramref name="count"/> devices named <c>shoe-00001</c>…, <c>band-00002</c>….</summary>
    public static IReadOnlyList<SimulatedDevice> Create(int count, int seed)
    {
        var random = new Random(seed);
        var devices = new List<SimulatedDevice>(count);
        for (var i = 1; i <= count; i++)
        {
            var deviceSeed = random.Next();
            var batch = Batches[random.Next(Batches.Length)];
            var manufactured = new DateOnly(2025, 7, 1).AddDays(random.Next(200));
            if (i % 2 == 1)
            {
                // Weekly distance is log-normal around 35 km (median recreational runner) with a long tail.
                var weeklyKm = Math.Clamp(35 * Math.Exp(0.6 * Normal(random)), 8, 160);
                var kg = Math.Round(Math.Clamp(72 + (12 * Normal(random)), 45, 120));
                var model = ShoeModels[random.Next(ShoeModels.Length)];
                var birth = new SimulatedBirth(DeviceKind.Shoe, model, batch, "1.4.2", manufactured, kg, null);
                devices.Add(new SimulatedShoe($"shoe-{i:D5}", birth, deviceSeed, weeklyKm, prematureCollapse: random.NextDouble() < 0.01));
            }
            else
            {
                var model = BandModels[random.Next(BandModels.Length)];
                var rated = model == "pulse-pro" ? 420.0 : 300.0;
                var birth = new SimulatedBirth(DeviceKind.Band, model, batch, "2.0.7", manufactured, null, rated);
                // Bands already in service for up to about 20 months of daily charging.
                var initialCycles = random.NextDouble() * 600;
                devices.Add(new SimulatedBand($"band-{i:D5}", birth, deviceSeed, initialCycles, earlyFade: random.NextDouble() < 0.015));
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
