using Microsoft.Extensions.Time.Testing;
using Telemetry.Bench.Load;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>The load tool's --rate: a steady rate from the first publish, not a burst of what connecting took.</summary>
public sealed class PacerTests
{
    [Fact]
    public void Pacer_CountsSlotsFromTheFirstPublish_SoTimeSpentConnectingIsNoBurst()
    {
        var time = new FakeTimeProvider();
        var pacer = new Pacer(100, time);
        time.Advance(TimeSpan.FromSeconds(5));

        var due = Enumerable.Range(0, 10).Select(_ => pacer.WaitAsync(CancellationToken.None).AsTask().IsCompleted).ToArray();

        // 100 messages/s: the first is due at once, the next nine 10 ms apart, not 500 slots overdue.
        Assert.Equal([true, false, false, false, false, false, false, false, false, false], due);
    }

    [Fact]
    public async Task Pacer_ReleasesTheNextSlotWhenItIsDue()
    {
        var time = new FakeTimeProvider();
        var pacer = new Pacer(100, time);
        await pacer.WaitAsync(CancellationToken.None);

        var second = pacer.WaitAsync(CancellationToken.None).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(9));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));

        await second.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
