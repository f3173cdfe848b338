namespace Telemetry.Models.Wear;

/// <summary>What a shoe's twin knows that bears on midsole wear.</summary>
/// <param name="DistanceKm">Cumulative distance reported by the pod.</param>
/// <param name="WearerKg">The wearer's mass from the birth message, or null when the device did not say.</param>
/// <param name="ImpactBaselineG">Mean impact_g over the shoe's first readings, or null before there are enough.</param>
/// <param name="ImpactRecentG">Smoothed recent impact_g, or null when no impact was reported.</param>
/// <param name="WeeklyKm">The wearer's average distance per week, used to turn kilometres into weeks.</param>
/// <param name="MidsoleTempC">Mean midsole temperature of the runs, when reported.</param>
/// <param name="PaceMinPerKm">Average pace (running time per km), when the pod reports durations.</param>
public readonly record struct ShoeWearInput(
    double DistanceKm,
    double? WearerKg,
    double? ImpactBaselineG,
    double? ImpactRecentG,
    double WeeklyKm,
    double? PaceMinPerKm = null,
    double? MidsoleTempC = null);
