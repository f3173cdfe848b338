namespace Telemetry.Models.Wear;

/// <summary>
/// A transparent wear model: every number it produces can be recomputed by hand from its inputs and the
/// published figures in DOMAIN.md. It is the baseline the learned models must beat.
/// </summary>
public sealed class RuleWearModel : IWearModel
{
    /// <summary>The reference runner mass for which <see cref="CushioningCurve"/> holds unscaled.</summary>
    public const double ReferenceMassKg = 72;

    /// <summary>Wang et al. (2010): peak impact rose about 5% over 500 km of normal running.</summary>
    private const double ExpectedImpactRisePerKm = 0.05 / 500;

    public string Version => "rules-1";

    public ShoeWearEstimate EstimateShoe(in ShoeWearInput input)
    {
        // DOMAIN.md (assumed): each load factor moves the wear rate by about ±20% across its realistic range.
        // Mass: ±20% across 32–112 kg around the reference runner.
        var massFactor = input.WearerKg is { } kg
            ? 1 + (0.2 * Math.Clamp((kg - ReferenceMassKg) / 40, -1, 1))
            : 1.0;

        // Impact: only a rise beyond what the distance already explains says the midsole is going faster.
        // The signal is slow and noisy, so it may add at most +40% and remove at most 20%.
        var impactFactor = 1.0;
        if (input.ImpactBaselineG is > 0 and var baseline && input.ImpactRecentG is { } recent)
        {
            var expected = 1 + (ExpectedImpactRisePerKm * Math.Min(input.DistanceKm, 800));
            var excess = (recent / baseline) - expected;
            impactFactor = 1 + Math.Clamp(excess * 2, -0.2, 0.4);
        }

        var rate = massFactor * impactFactor;
        var effectiveKm = Math.Max(0, input.DistanceKm) * rate;
        var cushioning = CushioningCurve.PercentAt(effectiveKm);
        var remainingKm = Math.Max(0, (CushioningCurve.KmAt(CushioningCurve.ReplaceNowPct) - effectiveKm) / rate);
        return new ShoeWearEstimate(cushioning, remainingKm, effectiveKm, massFactor, impactFactor);
    }

    public BandWearEstimate EstimateBand(in BandWearInput input)
    {
        if (input.ReferenceCapacityMah <= 0)
        {
            return new BandWearEstimate(100, double.PositiveInfinity, BatteryFade.DefaultFadePctPerCycle);
        }

        var health = Math.Min(100, 100 * input.SmoothedCapacityMah / input.ReferenceCapacityMah);
        var fade = BatteryFade.DefaultFadePctPerCycle;
        if (input.CyclesSinceReference >= BatteryFade.MinCyclesForObservedRate)
        {
            // Never extrapolate a rate slower than half the published one: early cells barely fade and
            // would otherwise promise thousands of cycles.
            fade = Math.Max((100 - health) / input.CyclesSinceReference, BatteryFade.DefaultFadePctPerCycle / 2);
        }

        var remaining = Math.Max(0, (health - BatteryFade.DegradedPct) / fade);
        return new BandWearEstimate(health, remaining, fade);
    }
}
