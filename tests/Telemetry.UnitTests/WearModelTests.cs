using Telemetry.Models.Wear;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class WearModelTests
{
    private readonly RuleWearModel _model = new();

    [Theory]
    [InlineData(80, 75)]   // Cook, Kester & Brunet (1985)
    [InlineData(240, 67)]
    [InlineData(800, 60)]
    public void CushioningCurve_FollowsThePublishedPoints(double km, double pct) =>
        Assert.InRange(CushioningCurve.PercentAt(km), pct - 1, pct + 1);

    [Fact]
    public void CushioningCurve_LosesFastEarlyThenSlowly()
    {
        var first100 = 100 - CushioningCurve.PercentAt(100);
        var from500To600 = CushioningCurve.PercentAt(500) - CushioningCurve.PercentAt(600);

        Assert.True(first100 > 10 * from500To600);
    }

    [Fact]
    public void Shoe_HeavierWearerWearsFaster()
    {
        var light = _model.EstimateShoe(new ShoeWearInput(300, 55, null, null, 30));
        var heavy = _model.EstimateShoe(new ShoeWearInput(300, 100, null, null, 30));

        Assert.True(heavy.CushioningPct < light.CushioningPct);
        Assert.True(heavy.RemainingKm < light.RemainingKm);
    }

    [Fact]
    public void Shoe_ImpactRisingFasterThanDistanceExplainsAddsWear()
    {
        var expected = _model.EstimateShoe(new ShoeWearInput(300, 72, 10, 10.3, 30));
        var rising = _model.EstimateShoe(new ShoeWearInput(300, 72, 10, 11.5, 30));

        Assert.InRange(expected.ImpactFactor, 0.99, 1.01);
        Assert.True(rising.ImpactFactor > 1.2);
        Assert.True(rising.CushioningPct < expected.CushioningPct);
    }

    [Fact]
    public void Shoe_RemainingKmReachesZeroAtTheReplacementThreshold()
    {
        var estimate = _model.EstimateShoe(new ShoeWearInput(CushioningCurve.KmAt(60), 72, null, null, 30));

        Assert.InRange(estimate.CushioningPct, 59.9, 60.1);
        Assert.InRange(estimate.RemainingKm, 0, 0.5);
    }

    [Fact]
    public void Band_HealthIsCapacityAgainstCapacityWhenNew()
    {
        var estimate = _model.EstimateBand(new BandWearInput(300, 255, 400, 7));

        Assert.Equal(85, estimate.HealthPct, 3);
        // 15 points over 400 cycles = 0.0375 per cycle; 5 points left to 80%.
        Assert.Equal(5 / 0.0375, estimate.RemainingCycles, 3);
    }

    [Fact]
    public void Band_UsesThePublishedFadeRateEarlyOn()
    {
        var estimate = _model.EstimateBand(new BandWearInput(300, 297, 10, 7));

        Assert.Equal(BatteryFade.DefaultFadePctPerCycle, estimate.FadePctPerCycle);
    }
}
