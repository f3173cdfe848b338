using Telemetry.Models.Quality;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class DefectStatisticsTests
{
    [Theory]
    // Reference values: Newcombe (1998), Table I, and R's binom::binom.wilson / prop.test(correct = FALSE).
    [InlineData(81, 263, 0.2553, 0.3662)]
    [InlineData(15, 148, 0.0624, 0.1605)]
    [InlineData(0, 20, 0.0, 0.1611)]
    [InlineData(1, 29, 0.0061, 0.1718)]
    [InlineData(5, 100, 0.0215, 0.1118)]
    public void Wilson_MatchesPublishedIntervals(long failures, long n, double low, double high)
    {
        var (l, h) = DefectStatistics.Wilson(failures, n);

        Assert.Equal(low, l, 4);
        Assert.Equal(high, h, 4);
    }

    [Fact]
    public void UpperTail_MatchesExactBinomialValues()
    {
        // P(X >= 3 | n=10, p=0.1) = 1 - (0.9^10 + 10*0.1*0.9^9 + 45*0.01*0.9^8) = 0.0701908...
        Assert.Equal(0.0701908, DefectStatistics.UpperTail(3, 10, 0.1), 6);
        Assert.Equal(1.0, DefectStatistics.UpperTail(0, 50, 0.02), 12);
        // Large n stays finite and sensible: 30 failures in 1000 at a 1.5% baseline is far in the tail.
        Assert.InRange(DefectStatistics.UpperTail(30, 1000, 0.015), 1e-6, 1e-3);
    }

    [Fact]
    public void DefectiveBatchIsFlagged_AndHealthyBatchesWithTheSameExposureAreNot_AcrossSeeds()
    {
        var flaggedBad = 0;
        var flaggedHealthy = 0;
        const int Seeds = 200;
        for (var seed = 0; seed < Seeds; seed++)
        {
            var random = new Random(seed);
            long Failures(int devices, double rate) => Enumerable.Range(0, devices).Count(_ => random.NextDouble() < rate);

            // A model with four batches of 150 devices: three at the normal 1.5%, one at a bad-batch 20%.
            var healthy = Enumerable.Range(0, 3).Select(_ => Failures(150, 0.015)).ToArray();
            var bad = Failures(150, 0.20);
            var badAssessment = DefectStatistics.Assess(150, bad, 450, healthy.Sum());
            if (badAssessment.Status == BatchStatus.Elevated)
            {
                flaggedBad++;
            }

            for (var b = 0; b < 3; b++)
            {
                var others = healthy.Where((_, i) => i != b).Sum() + bad;
                if (DefectStatistics.Assess(150, healthy[b], 450, others).Status == BatchStatus.Elevated)
                {
                    flaggedHealthy++;
                }
            }
        }

        Assert.Equal(Seeds, flaggedBad);
        Assert.Equal(0, flaggedHealthy);
    }

    [Fact]
    public void SmallBatch_WithAFailureOrTwo_IsNotElevated()
    {
        var assessment = DefectStatistics.Assess(devices: 8, failures: 2, baselineDevices: 2000, baselineFailures: 30);

        Assert.NotEqual(BatchStatus.Elevated, assessment.Status);
        Assert.True(assessment.CiHigh > 0.5, "a small batch has a wide interval");
    }
}
