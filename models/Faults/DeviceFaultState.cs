namespace Telemetry.Models.Faults;

/// <summary>
/// Everything the fault detector remembers about one device, fed one reading at a time by the device grain
/// (and by the evaluation, through exactly the same calls).
/// </summary>
[GenerateSerializer, Alias("telemetry.device-fault-state")]
public sealed class DeviceFaultState
{
    [Id(0)] public SignalHistory Impact { get; set; } = new();

    [Id(1)] public SignalHistory Contact { get; set; } = new();

    [Id(2)] public SignalHistory Humidity { get; set; } = new();

    [Id(3)] public CapacityTrend Capacity { get; set; } = new();

    /// <summary>Consecutive readings showing delamination, and water ingress.</summary>
    [Id(4)] public int DelaminationStreak { get; set; }

    [Id(5)] public int IngressStreak { get; set; }

    /// <summary>A shoe run: impact and ground contact of one reading.</summary>
    public FaultFinding? ObserveShoe(double? impactG, double? contactMs)
    {
        if (impactG is not { } impact || contactMs is not { } contact)
        {
            return null;
        }

        var impactZ = Impact.Observe(impact, FaultDetector.BaselineReadings, FaultDetector.RecentReadings, FaultDetector.MinScale("impact_g"));
        var contactZ = Contact.Observe(contact, FaultDetector.BaselineReadings, FaultDetector.RecentReadings, FaultDetector.MinScale("contact_ms"));
        var finding = FaultDetector.Delamination(impactZ, contactZ, Impact.RecentMedian ?? impact, Contact.RecentMedian ?? contact);
        DelaminationStreak = finding is null ? 0 : DelaminationStreak + 1;
        return DelaminationStreak >= FaultDetector.Persistence ? finding : null;
    }

    /// <summary>A band sample (humidity) or charge summary (cycles and capacity against the reference).</summary>
    public FaultFinding? ObserveBand(double? humidityPct, double? chargeCycles, double? capacityMah, double? referenceMah)
    {
        if (humidityPct is { } humidity)
        {
            var z = Humidity.Observe(humidity, FaultDetector.HumidityBaselineReadings, FaultDetector.RecentReadings, FaultDetector.MinScale("humidity_pct"));
            var ingress = FaultDetector.WaterIngress(z, Humidity.RecentMedian ?? humidity);
            IngressStreak = ingress is null ? 0 : IngressStreak + 1;
            if (IngressStreak >= FaultDetector.Persistence)
            {
                return ingress;
            }
        }

        if (chargeCycles is { } cycles && capacityMah is { } capacity && referenceMah is > 0)
        {
            return FaultDetector.FadingFast(Capacity.Observe(cycles, capacity, referenceMah.Value));
        }

        return null;
    }
}
