using Microsoft.Extensions.Time.Testing;
using Telemetry.Grains.Devices;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>The cap on resident twins: past it, the least recently called go first, down to nine tenths.</summary>
public sealed class ResidentTwinsTests
{
    [Fact]
    public async Task PastTheCap_TheLeastRecentlyCalledAreDeactivated_DownToTheTarget()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        using var residents = new ResidentTwins(100, time);
        var deactivated = new List<int>();
        var twins = new List<ResidentTwin>();
        for (var i = 0; i < 100; i++)
        {
            twins.Add(residents.Add(i, t => deactivated.Add((int)t)));
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        // Twins 0-9 are called again, so 10-19 are now the least recently used.
        for (var i = 0; i < 10; i++)
        {
            residents.Touch(twins[i]);
        }

        var waiting = residents.WaitUntilOverLimitAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        time.Advance(TimeSpan.FromMilliseconds(1));
        twins.Add(residents.Add(100, t => deactivated.Add((int)t)));
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        var shed = residents.ShedLeastRecentlyUsed();

        Assert.Equal(90, residents.Target);
        Assert.Equal(11, shed);
        Assert.Equal([.. Enumerable.Range(10, 11)], deactivated.Order());
        Assert.Equal(90, residents.Count);
        Assert.Equal(11, residents.Shed);

        // Their deactivation removes them again (harmless), and nothing more is shed below the cap.
        residents.Remove(twins[10]);
        Assert.Equal(0, residents.ShedLeastRecentlyUsed());
        Assert.Equal(90, residents.Count);
    }
}
