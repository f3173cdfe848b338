namespace Telemetry.Models.Wear;

/// <summary>A battery state-of-health estimate.</summary>
/// <param name="HealthPct">Full-charge capacity in percent of new.</param>
/// <param name="RemainingCycles">Charge cycles until health falls below <see cref="BatteryFade.DegradedPct"/>.</param>
/// <param name="FadePctPerCycle">The fade rate the estimate used (observed, or the published default early on).</param>
public readonly record struct BandWearEstimate(double HealthPct, double RemainingCycles, double FadePctPerCycle);
