namespace Telemetry.Models.Wear;

/// <summary>A shoe wear estimate with the factors that produced it, so alerts can explain themselves.</summary>
/// <param name="CushioningPct">Shock absorption left, in percent of new.</param>
/// <param name="RemainingKm">Distance until cushioning falls below <see cref="CushioningCurve.ReplaceNowPct"/>.</param>
/// <param name="EffectiveKm">Distance after scaling by how hard the shoe is loaded.</param>
/// <param name="MassFactor">Wear-rate multiplier from the wearer's mass (1 = reference runner).</param>
/// <param name="ImpactFactor">Wear-rate multiplier from the impact trend (1 = as expected for the distance).</param>
/// <param name="RemainingKmP10">Lower end of the 80% interval of the remaining distance (learned model only).</param>
/// <param name="RemainingKmP90">Upper end of that interval.</param>
/// <param name="ModelVersion">The model that produced the remaining distance, when not the rule model.</param>
public readonly record struct ShoeWearEstimate(
    double CushioningPct,
    double RemainingKm,
    double EffectiveKm,
    double MassFactor,
    double ImpactFactor,
    double? RemainingKmP10 = null,
    double? RemainingKmP90 = null,
    string? ModelVersion = null);
