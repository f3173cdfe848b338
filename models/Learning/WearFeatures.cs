using Telemetry.Models.Wear;

namespace Telemetry.Models.Learning;

/// <summary>
/// The feature vectors of the learned wear models, in one place for training and scoring. The rule model's
/// own estimate is one of the features, so the learned model starts from the published physics and learns
/// what it misses (pace, surface, the impact trend of a collapsing midsole, a cell that fades fast).
/// </summary>
public static class WearFeatures
{
    public const int ShoeCount = 8;

    public const int BandCount = 9;

    public static readonly string[] ShoeNames = ["distance_km", "wearer_kg", "weekly_km", "pace_min_per_km", "impact_ratio", "rule_effective_km", "rule_remaining_km", "midsole_temp_c"];

    public static readonly string[] BandNames = ["cycles", "health_pct", "observed_fade_pct_per_cycle", "cycles_per_week", "rule_fade_pct_per_cycle", "rule_remaining_cycles", "fitted_health_pct", "fitted_remaining_cycles", "temp_c"];

    public static void Shoe(in ShoeWearInput input, in ShoeWearEstimate rule, Span<float> features)
    {
        features[0] = (float)input.DistanceKm;
        features[1] = (float)(input.WearerKg ?? RuleWearModel.ReferenceMassKg);
        features[2] = (float)input.WeeklyKm;
        features[3] = (float)(input.PaceMinPerKm ?? 5.5);
        features[4] = input.ImpactBaselineG is > 0 and var baseline && input.ImpactRecentG is { } recent ? (float)(recent / baseline) : 1f;
        features[5] = (float)rule.EffectiveKm;
        features[6] = (float)rule.RemainingKm;
        features[7] = (float)(input.MidsoleTempC ?? 17);
    }

    public static void Band(in BandWearInput input, in BandWearEstimate rule, Span<float> features)
    {
        features[0] = (float)input.CyclesSinceReference;
        features[1] = (float)rule.HealthPct;
        features[2] = (float)(input.ObservedFadePctPerCycle ?? BatteryFade.DefaultFadePctPerCycle);
        features[3] = (float)input.CyclesPerWeek;
        features[4] = (float)rule.FadePctPerCycle;
        features[5] = (float)Math.Min(rule.RemainingCycles, 5000);
        var fitted = input.FittedHealthPct ?? rule.HealthPct;
        var fade = Math.Max(input.ObservedFadePctPerCycle ?? rule.FadePctPerCycle, BatteryFade.DefaultFadePctPerCycle / 2);
        features[6] = (float)fitted;
        features[7] = (float)Math.Min(5000, Math.Max(0, (fitted - BatteryFade.DegradedPct) / fade));
        features[8] = (float)(input.MeanTempC ?? 32);
    }
}
