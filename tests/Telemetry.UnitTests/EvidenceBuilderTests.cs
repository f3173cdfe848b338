using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Models.Faults;
using Telemetry.Models.Wear;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>The numbers behind an alert, in the order and with the rounding that consumers see.</summary>
public sealed class EvidenceBuilderTests
{
    [Fact]
    public void Shoe_GivesTheRemainingDistanceWithItsP10ToP90Interval_AndTheModelsDrivers()
    {
        var input = new ShoeWearInput(512.3, 80, 8.1, 8.6, WeeklyKm: 31.26, PaceMinPerKm: 5.4321);
        var estimate = new ShoeWearEstimate(64.24, 112.6, 560, 1.04, 1.23456, RemainingKmP10: 80.4, RemainingKmP90: 150.6, ModelVersion: "shoe-rul-3");
        var model = new FixedWearModel();

        var evidence = EvidenceBuilder.Shoe(512_345, input, estimate, "shoe-rul-3", model);

        Assert.Equal(
            new[]
            {
                EvidenceItem.Of("distance_km", 512.3),
                EvidenceItem.Of("cushioning_pct", 64.2),
                EvidenceItem.Of("remaining_km", 113),
                EvidenceItem.Of("remaining_km_p10", 80),
                EvidenceItem.Of("remaining_km_p90", 151),
                EvidenceItem.Of("pace_min_per_km", 5.43),
                EvidenceItem.Of("weekly_km", 31.3),
                EvidenceItem.Of("impact_factor", 1.235),
                EvidenceItem.Of("drivers", "pace_min_per_km -85 km"),
                EvidenceItem.Of("model_version", "shoe-rul-3"),
            },
            evidence);
        Assert.Equal(1, model.Explanations);
    }

    [Fact]
    public void Shoe_FromTheRuleModel_HasNoIntervalNoDriversAndNoWeightRevealingFactors()
    {
        var input = new ShoeWearInput(180, 72, null, null, WeeklyKm: 45);
        var estimate = new RuleWearModel().EstimateShoe(input);

        var evidence = EvidenceBuilder.Shoe(180_000, input, estimate, "rules-1", new RuleWearModel());

        Assert.Equal(
            new[] { "distance_km", "cushioning_pct", "remaining_km", "weekly_km", "impact_factor", "model_version" },
            evidence.Select(e => e.Key).ToArray());
    }

    [Fact]
    public void Band_GivesHealthCapacityTheRemainingCyclesIntervalAndCycles()
    {
        var input = new BandWearInput(300, 231.26, 400, 12);
        var estimate = new BandWearEstimate(77.09, 80.4, 0.045678, RemainingCyclesP10: 60.2, RemainingCyclesP90: 101.7, ModelVersion: "band-rul-2");

        var evidence = EvidenceBuilder.Band(410, input, estimate, "band-rul-2", new FixedWearModel());

        Assert.Equal(
            new[]
            {
                EvidenceItem.Of("battery_health_pct", 77.1),
                EvidenceItem.Of("capacity_mah", 231.3),
                EvidenceItem.Of("reference_capacity_mah", 300),
                EvidenceItem.Of("remaining_cycles_p10", 60),
                EvidenceItem.Of("remaining_cycles_p90", 102),
                EvidenceItem.Of("charge_cycles", 410),
                EvidenceItem.Of("fade_pct_per_cycle", 0.0457),
                EvidenceItem.Of("drivers", "mean_temp_c -40 cycles"),
                EvidenceItem.Of("model_version", "band-rul-2"),
            },
            evidence);
    }

    [Fact]
    public void Band_WithoutReportedCycles_SaysZero()
    {
        var evidence = EvidenceBuilder.Band(null, new BandWearInput(300, 290, 0, 0), new BandWearEstimate(96.7, 460, 0.0367), "rules-1", new RuleWearModel());

        Assert.Contains(EvidenceItem.Of("charge_cycles", 0), evidence);
    }

    [Fact]
    public void Fault_GivesTheDetectorsNumbersAndItsVersion()
    {
        var finding = new FaultFinding("water_ingress", 7.2, [("humidity_z", 7.2), ("humidity_pct", 91)]);

        Assert.Equal(
            new[] { EvidenceItem.Of("humidity_z", 7.2), EvidenceItem.Of("humidity_pct", 91), EvidenceItem.Of("model_version", FaultDetector.Version) },
            EvidenceBuilder.Fault(finding));
    }

    [Theory]
    [InlineData(null, 120.0)]
    [InlineData(80.0, null)]
    [InlineData(null, null)]
    public void Interval_NeedsBothEnds(double? p10, double? p90) =>
        Assert.Empty(EvidenceBuilder.Interval("remaining_km", p10, p90));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Drivers_AreLeftOutWhenTheModelNamesNone(string? drivers) =>
        Assert.Empty(EvidenceBuilder.Drivers(drivers));
}
