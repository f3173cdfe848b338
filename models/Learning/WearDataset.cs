using Telemetry.Models.Simulation;
using Telemetry.Models.Wear;

namespace Telemetry.Models.Learning;

/// <summary>One training example: a device at one moment, its features and the true remaining life.</summary>
public sealed record WearExample(string Device, float[] Features, float Label, double RuleRemaining);

/// <summary>
/// Training and test examples from a generated fleet, whose true state is known at every step: each device
/// is run forward and, every week of simulated time, its usage goes through <see cref="ShoeUsage"/> or
/// <see cref="BandUsage"/> and <see cref="WearFeatures"/>, exactly as in the grain, with the true remaining
/// life as the label (km to 60% cushioning; cycles to 80% capacity).
/// </summary>
public static class WearDataset
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static List<WearExample> Shoes(int count, int seed, int days = 400)
    {
        var model = new RuleWearModel();
        var examples = new List<WearExample>();
        var readings = new List<SimulatedReading>();
        foreach (var shoe in Fleet(count, seed).OfType<SimulatedShoe>())
        {
            shoe.Start(Start);
            var usage = new ShoeUsage();
            for (var day = 7; day <= days; day += 7)
            {
                readings.Clear();
                shoe.Advance(Start.AddDays(day), readings);
                foreach (var r in readings)
                {
                    usage.Observe(r.TimestampMs, Get(r, "distance_m"), Get(r, "duration_s"), Get(r, "impact_g"), Get(r, "midsole_temp_c"));
                }

                if (day < 21)
                {
                    continue;
                }

                var input = usage.Input(shoe.Birth.WearerKg);
                var rule = model.EstimateShoe(input);
                var features = new float[WearFeatures.ShoeCount];
                WearFeatures.Shoe(input, rule, features);
                examples.Add(new WearExample(shoe.Id, features, (float)shoe.TrueRemainingKm, rule.RemainingKm));
                if (shoe.TrueRemainingKm <= 0)
                {
                    break;
                }
            }
        }

        return examples;
    }

    public static List<WearExample> Bands(int count, int seed, int days = 300)
    {
        var model = new RuleWearModel();
        var examples = new List<WearExample>();
        var readings = new List<SimulatedReading>();
        foreach (var band in Fleet(count, seed).OfType<SimulatedBand>())
        {
            band.Start(Start);
            var usage = new BandUsage();
            for (var day = 7; day <= days; day += 7)
            {
                readings.Clear();
                band.Advance(Start.AddDays(day), readings);
                foreach (var r in readings)
                {
                    if (Get(r, "temp_c") is { } temp)
                    {
                        usage.ObserveTemperature(temp);
                    }

                    if (Get(r, "capacity_mah") is { } capacity && Get(r, "charge_cycles") is { } cycles)
                    {
                        usage.Observe(r.TimestampMs, cycles, capacity, band.Birth.RatedCapacityMah);
                    }
                }

                if (day < 28 || usage.Input() is not { } input)
                {
                    continue;
                }

                var rule = model.EstimateBand(input);
                var features = new float[WearFeatures.BandCount];
                WearFeatures.Band(input, rule, features);
                examples.Add(new WearExample(band.Id, features, (float)band.TrueRemainingCycles, Math.Min(rule.RemainingCycles, 5000)));
                if (band.TrueRemainingCycles <= 0)
                {
                    break;
                }
            }
        }

        return examples;
    }

    /// <summary>A fleet of one kind: every device of the generator, keeping shoes or bands as asked.</summary>
    private static IEnumerable<SimulatedDevice> Fleet(int count, int seed) => FleetGenerator.Create(count * 2, seed);

    private static double? Get(SimulatedReading reading, string name)
    {
        foreach (var metric in reading.Metrics)
        {
            if (metric.Key == name)
            {
                return metric.Value;
            }
        }

        return null;
    }
}
