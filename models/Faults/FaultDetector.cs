namespace Telemetry.Models.Faults;

/// <summary>A suspected fault: what, how strongly, and the numbers behind it.</summary>
public sealed record FaultFinding(string Mode, double Score, IReadOnlyList<(string Key, double Value)> Evidence);

/// <summary>
/// Sudden-fault detection by deviation from each device's own healthy baseline (DOMAIN.md failure modes).
/// RandomizedPca was measured here to rank worn units as less anomalous than healthy ones, so wear is left
/// to the remaining-life models and this detector looks only for steps that wear cannot explain.
/// </summary>
public static class FaultDetector
{
    public const string Version = "faults-z-1";

    /// <summary>Readings that form a signal's baseline (shoe runs; band samples are many more, so more of
    /// them), and readings in the recent median.</summary>
    public const int BaselineReadings = 20;

    public const int HumidityBaselineReadings = 48;

    /// <summary>Consecutive readings that must show the fault before it is reported.</summary>
    public const int Persistence = 2;

    public const int RecentReadings = 3;

    /// <summary>Delamination: impact and ground contact both step up (robust z of the recent median), each
    /// at least this much, and together at least <see cref="DelaminationCombinedZ"/>. Wear alone raises
    /// impact slowly and leaves contact time alone, so it does not pass.</summary>
    public const double DelaminationImpactZ = 2.5;

    public const double DelaminationContactZ = 2.0;

    public const double DelaminationCombinedZ = 6.0;

    /// <summary>Water ingress: internal humidity far above the band's own normal.</summary>
    public const double WaterIngressZ = 6.0;

    /// <summary>Early fade: capacity falling this many times faster per cycle than a healthy cell's
    /// 20% over 545 cycles (CALCE CS2, DOMAIN.md).</summary>
    public const double FadingFastFactor = 1.9;

    public const double HealthyFadePctPerCycle = 20.0 / 545;

    public static FaultFinding? Delamination(double? impactZ, double? contactZ, double impactG, double contactMs) =>
        impactZ >= DelaminationImpactZ && contactZ >= DelaminationContactZ && impactZ + contactZ >= DelaminationCombinedZ
            ? new FaultFinding("delamination", Math.Min(impactZ.Value, contactZ.Value),
                [("impact_z", Math.Round(impactZ.Value, 2)), ("contact_z", Math.Round(contactZ.Value, 2)), ("impact_g", impactG), ("contact_ms", contactMs)])
            : null;

    public static FaultFinding? WaterIngress(double? humidityZ, double humidityPct) =>
        humidityZ >= WaterIngressZ
            ? new FaultFinding("water_ingress", humidityZ.Value, [("humidity_z", Math.Round(humidityZ.Value, 2)), ("humidity_pct", humidityPct)])
            : null;

    public static FaultFinding? FadingFast(double? fadePctPerCycle) =>
        fadePctPerCycle >= FadingFastFactor * HealthyFadePctPerCycle
            ? new FaultFinding("battery_fading_fast", fadePctPerCycle.Value / HealthyFadePctPerCycle,
                [("fade_pct_per_cycle", Math.Round(fadePctPerCycle.Value, 4)), ("healthy_fade_pct_per_cycle", Math.Round(HealthyFadePctPerCycle, 4))])
            : null;

    /// <summary>Smallest spreads assumed, so a suspiciously steady baseline cannot make noise look like a fault.</summary>
    public static double MinScale(string metric) => metric switch
    {
        "impact_g" => 0.3,
        "contact_ms" => 4,
        "humidity_pct" => 3,
        _ => 1e-6,
    };
}
