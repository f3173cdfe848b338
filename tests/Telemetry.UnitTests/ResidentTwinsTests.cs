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

    [Fact]
    public void ATwinThatCannotBeDeactivated_DoesNotKeepTheOthersResident()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        using var residents = new ResidentTwins(100, time);
        var deactivated = new List<int>();
        for (var i = 0; i <= 100; i++)
        {
            // The oldest twin's deactivation throws (its activation is already going, say).
            residents.Add(i, t => deactivated.Add((int)t == 0 ? throw new InvalidOperationException("already deactivating") : (int)t));
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        var failure = Assert.Throws<AggregateException>(() => residents.ShedLeastRecentlyUsed());

        Assert.IsType<InvalidOperationException>(Assert.Single(failure.InnerExceptions));
        Assert.Equal([.. Enumerable.Range(1, 10)], deactivated.Order());
        Assert.Equal(10, residents.Shed);

        // Still resident, so still counted, and asked again by the next sweep past the target.
        Assert.Equal(91, residents.Count);
        Assert.Throws<AggregateException>(() => residents.ShedLeastRecentlyUsed());
        Assert.Equal(91, residents.Count);
        Assert.Equal(10, residents.Shed);
    }

    [Fact]
    public async Task AFailedSweep_IsLoggedAndTriedAgain_TheSweeperKeepsRunning()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        using var residents = new ResidentTwins(100, time);
        var deactivated = new List<int>();
        var failedOnce = false;
        using var sweeper = new ResidentTwinSweeper(residents, NullLogger<ResidentTwinSweeper>.Instance, time);
        await sweeper.StartAsync(CancellationToken.None);

        // The oldest twin cannot be deactivated, as when the sweep itself runs out of memory: the sweeper must not end.
        // Each batch crosses the cap only with its last twin, so each sweep sees the same count however the threads run.
        for (var i = 0; i <= 110; i++)
        {
            if (i == 101)
            {
                await WaitForAsync(() => sweeper.Failures == 1);
                Assert.False(sweeper.ExecuteTask!.IsCompleted);
                Assert.Equal(91, residents.Count);

                // A second later it waits for the cap again; past it once more, the next least recently used go.
                failedOnce = true;
                time.Advance(ResidentTwinSweeper.RetryDelay);
            }

            residents.Add(i, t =>
            {
                lock (deactivated)
                {
                    deactivated.Add((int)t == 0 && !failedOnce ? throw new InsufficientMemoryException("no room for the sweep") : (int)t);
                }
            });
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        // Twin 0 was registered again and goes now, with the next ten least recently used.
        await WaitForAsync(() => residents.Shed == 21);
        Assert.False(sweeper.ExecuteTask!.IsCompleted);
        Assert.Equal(1, sweeper.Failures);
        Assert.Equal(90, residents.Count);
        lock (deactivated)
        {
            Assert.Equal([.. Enumerable.Range(0, 21)], deactivated.Order());
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
            time.Advance(TimeSpan.FromSeconds(logger.Delays[^1]));
        }

        Assert.Equal([1, 2, 4, 8, 16, 30, 30], logger.Delays.Take(7));
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
