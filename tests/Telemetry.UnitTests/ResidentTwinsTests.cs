using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Grains.Devices;
using Telemetry.Ingest.Twins;
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
        var shed = residents.ShedLeastRecentlyUsed().Shed;

        Assert.Equal(90, residents.Target);
        Assert.Equal(11, shed);
        Assert.Equal([.. Enumerable.Range(10, 11)], deactivated.Order());
        Assert.Equal(90, residents.Count);
        Assert.Equal(11, residents.Shed);

        // Their deactivation removes them again (harmless), and nothing more is shed below the cap.
        residents.Remove(twins[10]);
        Assert.Equal(0, residents.ShedLeastRecentlyUsed().Shed);
        Assert.Equal(90, residents.Count);
    }

    [Fact]
    public void ATwinThatCannotBeDeactivated_DoesNotKeepTheOthersResident_AndStaysCounted()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        using var residents = new ResidentTwins(100, time);
        var deactivated = new List<int>();
        var twins = new List<ResidentTwin>();
        for (var i = 0; i <= 100; i++)
        {
            twins.Add(residents.Add(i, t =>
            {
                switch ((int)t)
                {
                    case 0:
                        // Cannot be asked to leave (its activation is busy, say): it stays resident.
                        throw new InvalidOperationException("cannot deactivate now");
                    case 1:
                        // Its deactivation ran at once, then the call failed: it is gone all the same.
                        residents.Remove(twins[1]);
                        throw new InvalidOperationException("deactivated, then failed");
                    default:
                        deactivated.Add((int)t);
                        break;
                }
            }));
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        var outcome = residents.ShedLeastRecentlyUsed();

        Assert.Equal(9, outcome.Shed);
        Assert.Equal(2, outcome.Failures.Count);
        Assert.Equal([.. Enumerable.Range(2, 9)], deactivated.Order());
        Assert.Equal(9, residents.Shed);

        // Twin 0 is counted again, as the most recently used; twin 1 is not.
        Assert.Equal(91, residents.Count);
        var next = residents.ShedLeastRecentlyUsed();
        Assert.Equal((1, 0), (next.Shed, next.Failures.Count));
        Assert.Equal(11, deactivated[^1]);
        Assert.Equal(90, residents.Count);
    }

    [Fact]
    public async Task ATwinThatCannotLeave_DoesNotSlowTheSweeps()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        using var residents = new ResidentTwins(100, time);
        using var sweeper = new ResidentTwinSweeper(residents, NullLogger<ResidentTwinSweeper>.Instance, time);
        await sweeper.StartAsync(CancellationToken.None);

        // Each batch crosses the cap only with its last twin, so each sweep sees the same count however the threads run.
        for (var i = 0; i <= 110; i++)
        {
            if (i == 101)
            {
                await WaitForAsync(() => residents.Shed == 10);
            }

            residents.Add(i, t => _ = (int)t == 0 ? throw new InvalidOperationException("cannot deactivate now") : 0);
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        // No back-off: the second sweep ran without the clock moving a second.
        await WaitForAsync(() => residents.Shed == 21);
        Assert.Equal(0, sweeper.Failures);
        Assert.Equal(90, residents.Count);
        await sweeper.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task ASweepThatShedsNothing_IsLoggedAndTriedAgain_TheSweeperKeepsRunning()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        using var residents = new ResidentTwins(100, time);
        var deactivated = new List<int>();
        var failing = true;
        using var sweeper = new ResidentTwinSweeper(residents, NullLogger<ResidentTwinSweeper>.Instance, time);
        await sweeper.StartAsync(CancellationToken.None);

        // Every twin fails to leave, as when the sweep itself runs out of memory: the sweeper must not end.
        for (var i = 0; i <= 100; i++)
        {
            residents.Add(i, t =>
            {
                lock (deactivated)
                {
                    deactivated.Add(Volatile.Read(ref failing) ? throw new InsufficientMemoryException("no room for the sweep") : (int)t);
                }
            });
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        await WaitForAsync(() => sweeper.Failures == 1);
        Assert.False(sweeper.ExecuteTask!.IsCompleted);
        Assert.Equal(101, residents.Count);

        // A second later it sweeps again. The eleven that failed now count as the most recently used, so the next
        // eleven go.
        Volatile.Write(ref failing, false);
        time.Advance(ResidentTwinSweeper.RetryDelay);
        await WaitForAsync(() => residents.Shed == 11);
        Assert.False(sweeper.ExecuteTask!.IsCompleted);
        Assert.Equal(1, sweeper.Failures);
        Assert.Equal(90, residents.Count);
        lock (deactivated)
        {
            Assert.Equal([.. Enumerable.Range(11, 11)], deactivated.Order());
        }

        await sweeper.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task SweepsThatKeepFailing_BackOffToHalfAMinute_EvenWhenTheLogFailsToo()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        using var residents = new ResidentTwins(100, time);
        var logger = new FailingLogger();
        using var sweeper = new ResidentTwinSweeper(residents, logger, time);
        await sweeper.StartAsync(CancellationToken.None);

        // No twin can be asked to leave: every sweep fails, and the cap stays exceeded.
        for (var i = 0; i <= 100; i++)
        {
            residents.Add(i, _ => throw new InvalidOperationException("cannot deactivate"));
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        for (var failures = 1; failures <= 7; failures++)
        {
            await WaitForAsync(() => sweeper.Failures == failures);
            Assert.False(sweeper.ExecuteTask!.IsCompleted);
            if (failures < 7)
            {
                time.Advance(TimeSpan.FromSeconds(logger.Delays[^1]));
            }
        }

        // The seventh retry waits for its 30 s: nothing sweeps meanwhile.
        Assert.Equal([1, 2, 4, 8, 16, 30, 30], logger.Delays);
        Assert.Equal(101, residents.Count);
        await sweeper.StopAsync(CancellationToken.None);
    }

    [Theory]
    [InlineData(0, 0, 100_000)]
    [InlineData(0, 384L << 20, 20_336)]
    [InlineData(0, 24L << 30, 100_000)]
    [InlineData(0, 16L << 20, 1_000)]
    [InlineData(5_000, 384L << 20, 5_000)]
    [InlineData(250_000, 16L << 20, 250_000)]
    public void TheCap_IsSizedFromTheMemoryTheGcMayUse_UnlessSet(int configured, long available, int expected)
    {
        Assert.Equal(expected, new TwinOptions { MaxResidentTwins = configured }.ResolveMaxResidentTwins(available));
    }

    /// <summary>Records each failed sweep's retry delay, then throws, as a log short of memory would.</summary>
    private sealed class FailingLogger : ILogger<ResidentTwinSweeper>
    {
        public List<double> Delays { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (state is IReadOnlyList<KeyValuePair<string, object?>> fields && fields.FirstOrDefault(f => f.Key == "DelaySeconds").Value is double delay)
            {
                Delays.Add(delay);
                throw new InvalidOperationException("the log is failing too");
            }
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        // Real time only bounds the wait; the outcome is asserted by the caller.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), "the sweeper did not get there in 10 s");
    }
}
