using Telemetry.Models.Faults;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>The fault detector's per-signal history against a plain reference: same baseline, same recent window,
/// same robust z-score, over seeded random readings and window sizes odd and even.</summary>
public sealed class SignalHistoryTests
{
    [Theory]
    [InlineData(20, 3)]
    [InlineData(5, 4)]
    [InlineData(48, 1)]
    [InlineData(16, 16)]
    [InlineData(17, 17)]
    public void ZScores_MatchAPlainMedianOverTheLastReadings(int baselineSize, int recentSize)
    {
        var random = new Random(12);
        var history = new SignalHistory();
        var all = new List<double>();
        for (var i = 0; i < 300; i++)
        {
            var value = Math.Round(random.NextDouble() * 10, 2);
            all.Add(value);
            var z = history.Observe(value, baselineSize, recentSize, minScale: 0.1);

            if (all.Count < baselineSize + recentSize)
            {
                Assert.Null(z);
                continue;
            }

            var baseline = all.Take(baselineSize).ToList();
            var median = Median(baseline);
            var scale = Math.Max(0.1, 1.4826 * Median([.. baseline.Select(v => Math.Abs(v - median))]));
            var recent = all.Skip(all.Count - recentSize).ToList();
            Assert.Equal((Median(recent) - median) / scale, z!.Value, 12);
            Assert.Equal(recent, history.Recent);
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
