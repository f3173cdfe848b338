namespace Telemetry.Models.Faults;

/// <summary>
/// Everything the fault detector remembers about one device, fed one reading at a time by the device grain
/// (and by the evaluation, through exactly the same calls). Stored with the twin through Telemetry.Grains' serializer.
/// </summary>
public sealed class DeviceFaultState
{
    // Each signal is created on first use: a shoe never feeds humidity or capacity, a band never impact or contact,
    // and a device twin that stays resident should not carry the other kind's empty histories. The fields, not the
    // properties, are what is stored, so a signal never fed stays absent after a load.
    private SignalHistory? _impact;

    private SignalHistory? _contact;

    private SignalHistory? _humidity;

    private CapacityTrend? _capacity;

    public DeviceFaultState()
    {
    }

    /// <summary>A state as it was stored, its signals as they were (null where never fed).</summary>
    internal DeviceFaultState(SignalHistory? impact, SignalHistory? contact, SignalHistory? humidity, CapacityTrend? capacity, int delaminationStreak, int ingressStreak)
    {
        _impact = impact;
        _contact = contact;
        _humidity = humidity;
        _capacity = capacity;
        DelaminationStreak = delaminationStreak;
        IngressStreak = ingressStreak;
    }

    /// <summary>Stored: the impact history, null when never fed (unlike <see cref="Impact"/>, does not create it).</summary>
    internal SignalHistory? StoredImpact => _impact;

    /// <summary>Stored: the contact history, null when never fed.</summary>
    internal SignalHistory? StoredContact => _contact;

    /// <summary>Stored: the humidity history, null when never fed.</summary>
    internal SignalHistory? StoredHumidity => _humidity;

    /// <summary>Stored: the capacity trend, null when never fed.</summary>
    internal CapacityTrend? StoredCapacity => _capacity;

    public SignalHistory Impact { get => _impact ??= new(); set => _impact = value; }

    public SignalHistory Contact { get => _contact ??= new(); set => _contact = value; }

    public SignalHistory Humidity { get => _humidity ??= new(); set => _humidity = value; }

    public CapacityTrend Capacity { get => _capacity ??= new(); set => _capacity = value; }

    /// <summary>Consecutive readings showing delamination, and water ingress.</summary>
    public int DelaminationStreak { get; set; }

    public int IngressStreak { get; set; }

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
