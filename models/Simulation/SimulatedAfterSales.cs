namespace Telemetry.Models.Simulation;

/// <summary>An after-sales case the simulated brand confirms: a device returned or repaired for a failure mode.</summary>
public sealed record SimulatedReturn(string Device, string Model, string Batch, string FailureMode, string Kind, DateTimeOffset At);

/// <summary>
/// The brand's after-sales desk in the simulation. Faults a customer can see or feel come back as confirmed
/// cases some days later: a delaminating sole as a warranty claim 2–10 days after it starts, a collapsed
/// midsole as a return 2–6 weeks into use (its owner notices the dead cushioning first), a swelling band battery
/// (DOMAIN.md: early fade often comes with swelling) as a warranty claim 1–3 weeks after the fade begins. Water
/// ingress and a fading heart-rate sensor are left to telemetry. Reproducible from the seed, like the fleet.
/// </summary>
public static class SimulatedAfterSales
{
    public static IReadOnlyList<SimulatedReturn> Cases(IEnumerable<SimulatedDevice> startedDevices, int seed)
    {
        var random = new Random(seed ^ 0x5eed);
        var cases = new List<SimulatedReturn>();
        foreach (var device in startedDevices)
        {
            var draw = random.NextDouble();
            if (device.FaultOnset is not { } onset)
            {
                continue;
            }

            var birth = device.Birth;
            switch (device.Fault?.Mode)
            {
                case FaultMode.Delamination:
                    cases.Add(new(device.Id, birth.Model, birth.Batch, "delamination", "warranty", onset + TimeSpan.FromDays(2 + (8 * draw))));
                    break;
                case FaultMode.PrematureCollapse:
                    cases.Add(new(device.Id, birth.Model, birth.Batch, "premature_collapse", "return", onset + TimeSpan.FromDays(14 + (28 * draw))));
                    break;
                case FaultMode.EarlyBatteryFade:
                    cases.Add(new(device.Id, birth.Model, birth.Batch, "battery_fading_fast", "warranty", onset + TimeSpan.FromDays(7 + (14 * draw))));
                    break;
                default:
                    break;
            }
        }

        cases.Sort((a, b) => a.At.CompareTo(b.At));
        return cases;
    }
}
