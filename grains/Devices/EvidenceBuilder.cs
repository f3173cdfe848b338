using Telemetry.Grains.Alerts;
using Telemetry.Models.Faults;
using Telemetry.Models.Wear;

namespace Telemetry.Grains.Devices;

/// <summary>
/// The numbers behind an alert (<see cref="AlertEvent.Evidence"/>), in the order consumers see them. Alert consumers
/// read these keys: add new ones, never rename one.
/// </summary>
internal static class EvidenceBuilder
{
    /// <summary>A shoe's cushioning estimate. Built only when its alert level moves (the drivers cost a few predictions).</summary>
    public static EvidenceItem[] Shoe(
        double distanceM, in ShoeWearInput input, in ShoeWearEstimate estimate, string modelVersion, IWearModel? model) =>
    [
        EvidenceItem.Of("distance_km", Math.Round(distanceM / 1000, 1)),
        EvidenceItem.Of("cushioning_pct", Math.Round(estimate.CushioningPct, 1)),
        EvidenceItem.Of("remaining_km", Math.Round(estimate.RemainingKm)),
        .. Interval("remaining_km", estimate.RemainingKmP10, estimate.RemainingKmP90),
        .. (input.PaceMinPerKm is { } pace ? [EvidenceItem.Of("pace_min_per_km", Math.Round(pace, 2))] : Array.Empty<EvidenceItem>()),
        EvidenceItem.Of("weekly_km", Math.Round(input.WeeklyKm, 1)),
        // Not the mass factor or the effective distance: with the distance they give the wearer's
        // weight to the kilogram, and alerts reach people and systems without the admin scope.
        EvidenceItem.Of("impact_factor", Math.Round(estimate.ImpactFactor, 3)),
        .. Drivers((model as IExplainableWearModel)?.ShoeDrivers(input)),
        EvidenceItem.Of("model_version", modelVersion),
    ];

    /// <summary>A band's battery estimate, built like <see cref="Shoe"/>.</summary>
    public static EvidenceItem[] Band(
        long? chargeCycles, in BandWearInput input, in BandWearEstimate estimate, string modelVersion, IWearModel? model) =>
    [
        EvidenceItem.Of("battery_health_pct", Math.Round(estimate.HealthPct, 1)),
        EvidenceItem.Of("capacity_mah", Math.Round(input.SmoothedCapacityMah, 1)),
        EvidenceItem.Of("reference_capacity_mah", input.ReferenceCapacityMah),
        .. Interval("remaining_cycles", estimate.RemainingCyclesP10, estimate.RemainingCyclesP90),
        EvidenceItem.Of("charge_cycles", chargeCycles ?? 0),
        EvidenceItem.Of("fade_pct_per_cycle", Math.Round(estimate.FadePctPerCycle, 4)),
        .. Drivers((model as IExplainableWearModel)?.BandDrivers(input)),
        EvidenceItem.Of("model_version", modelVersion),
    ];

    /// <summary>A fault: the detector's own numbers and its version.</summary>
    public static EvidenceItem[] Fault(FaultFinding finding) =>
    [
        .. finding.Evidence.Select(e => EvidenceItem.Of(e.Key, e.Value)),
        EvidenceItem.Of("model_version", FaultDetector.Version),
    ];

    /// <summary>The model's main drivers, when it can name them (learned models; the rule model cannot).</summary>
    public static EvidenceItem[] Drivers(string? drivers) =>
        drivers is { Length: > 0 } ? [EvidenceItem.Of("drivers", drivers)] : [];

    /// <summary>The 80% interval of a remaining figure as <c>{key}_p10</c> and <c>{key}_p90</c>, rounded to whole units;
    /// nothing when the model gives no interval.</summary>
    public static EvidenceItem[] Interval(string key, double? p10, double? p90) =>
        p10 is { } low && p90 is { } high ? [EvidenceItem.Of($"{key}_p10", Math.Round(low)), EvidenceItem.Of($"{key}_p90", Math.Round(high))] : [];
}
