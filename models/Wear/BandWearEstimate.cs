namespace Telemetry.Models.Wear;

/// <summary>A battery state-of-health estimate.</summary>
/// <param name="HealthPct">Full-charge capacity in percent of new.</param>
/// <param name="RemainingCycles">Charge cycles until health falls below <see cref="BatteryFade.DegradedPct"/>.</param>
/// <param name="FadePctPerCycle">The fade rate the estimate used (observed, or the published default early on).</param>
/// <param name="RemainingCyclesP10">Lower end of the 80% interval of the remaining cycles (learned model only).</param>
/// <param name="RemainingCyclesP90">Upper end of that interval.</param>
/// <param name="ModelVersion">The model that produced the remaining cycles, when not the rule model.</param>
public readonly record struct BandWearEstimate(
    double HealthPct,
    double RemainingCycles,
    double FadePctPerCycle,
    double? RemainingCyclesP10 = null,
    double? RemainingCyclesP90 = null,
    string? ModelVersion = null);
