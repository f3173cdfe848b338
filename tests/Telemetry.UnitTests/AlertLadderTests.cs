using Telemetry.Grains.Alerts;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class AlertLadderTests
{
    private readonly AlertLadder _cushioning = AlertLadder.Cushioning;

    [Theory]
    [InlineData(-1, 75, -1)]
    [InlineData(-1, 69.9, 0)]
    [InlineData(-1, 59.9, 1)]
    [InlineData(0, 59.9, 1)]
    [InlineData(0, 71, 0)]    // inside the hysteresis band: stays
    [InlineData(0, 72, -1)]   // recovered past 70 + 2
    [InlineData(1, 61, 1)]
    [InlineData(1, 62.5, 0)]
    [InlineData(1, 80, -1)]   // a replaced shoe clears every level at once
    public void Evaluate_MovesBetweenLevelsWithHysteresis(int current, double value, int expected) =>
        Assert.Equal(expected, _cushioning.Evaluate(current, value));

    [Fact]
    public void NoiseAroundAThreshold_ChangesLevelOnce()
    {
        var random = new Random(7);
        var level = -1;
        var transitions = 0;
        for (var i = 0; i < 1000; i++)
        {
            // A battery hovering at 80% with ±1.5 points of gauge noise.
            var next = AlertLadder.Battery.Evaluate(level, 79.5 + ((random.NextDouble() - 0.5) * 3));
            transitions += next != level ? 1 : 0;
            level = next;
        }

        Assert.Equal(1, transitions);
    }

    [Fact]
    public void AlertTexts_NameTheNumbersAndTheAction()
    {
        var text = AlertTexts.ShoeReplaceSoon(64.2, 112, 35, AlertLocales.En);

        Assert.Equal("Cushioning is at about 64% of new. At your current 35 km a week, about 110 km (3 weeks) remain. Plan a replacement.", text);
    }

    [Fact]
    public void Ulid_IsTwentySixCrockfordCharactersAndSortsByTime()
    {
        var earlier = Ulid.New(DateTimeOffset.FromUnixTimeMilliseconds(1_795_428_000_000));
        var later = Ulid.New(DateTimeOffset.FromUnixTimeMilliseconds(1_795_428_000_001));

        Assert.Matches("^[0-9A-HJKMNP-TV-Z]{26}$", earlier);
        Assert.True(string.CompareOrdinal(earlier, later) < 0);
    }
}
