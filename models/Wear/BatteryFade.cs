namespace Telemetry.Models.Wear;

/// <summary>
/// Published battery figures: generic Li-ion and LiPo cells are rated for at least 500 cycles to 80% of
/// rated capacity, and CALCE CS2 LiCoO2 cells reach 80% after about 500–590 cycles.
/// </summary>
public static class BatteryFade
{
    /// <summary>Health below which a band's battery counts as degraded.</summary>
    public const double DegradedPct = 80;

    /// <summary>The published default: 20 percentage points over 500 cycles.</summary>
    public const double DefaultFadePctPerCycle = 20.0 / 500;

    /// <summary>Below this many cycles the observed fade is too noisy to extrapolate from.</summary>
    public const double MinCyclesForObservedRate = 50;
}
