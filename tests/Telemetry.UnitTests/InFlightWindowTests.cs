using Telemetry.Ingest.Broker;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class InFlightWindowTests
{
    [Fact]
    public async Task Enter_TakesPlacesUntilFull_ThenWaits()
    {
        var window = new InFlightWindow(2, new StepClock());
        await window.EnterAsync(CancellationToken.None);
        await window.EnterAsync(CancellationToken.None);

        var third = window.EnterAsync(CancellationToken.None).AsTask();

        Assert.False(third.IsCompleted);
        Assert.Equal(2, window.Used);
        Assert.Equal(1, window.Waiting);
        Assert.Equal(1, window.Waits);
    }

    [Fact]
    public async Task Release_AdmitsWaitersInArrivalOrder()
    {
        var window = new InFlightWindow(1, new StepClock());
        await window.EnterAsync(CancellationToken.None);
        var first = window.EnterAsync(CancellationToken.None).AsTask();
        var second = window.EnterAsync(CancellationToken.None).AsTask();

        window.Release();
        await first.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(second.IsCompleted);
        Assert.Equal(1, window.Used);
        window.Release();
        await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, window.Used);
        Assert.Equal(0, window.Waiting);
    }

    [Fact]
    public async Task Enter_DoesNotOvertakeWaiters_WhenAPlaceFreesUp()
    {
        var window = new InFlightWindow(1, new StepClock());
        await window.EnterAsync(CancellationToken.None);
        var waiting = window.EnterAsync(CancellationToken.None).AsTask();

        window.Release();
        var late = window.EnterAsync(CancellationToken.None).AsTask();

        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(late.IsCompleted);
    }

    [Fact]
    public async Task CancelledWait_TakesNoPlace_AndLeavesTheQueue()
    {
        var window = new InFlightWindow(1, new StepClock());
        await window.EnterAsync(CancellationToken.None);
        using var gone = new CancellationTokenSource();
        var cancelled = window.EnterAsync(gone.Token).AsTask();
        var next = window.EnterAsync(CancellationToken.None).AsTask();

        await gone.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, window.Waiting);
        window.Release();
        await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, window.Used);
        Assert.Equal(0, window.Waiting);
    }

    [Fact]
    public async Task Take_GoesOverTheSize_AndReleaseAdmitsOnlyBelowIt()
    {
        var window = new InFlightWindow(2, new StepClock());
        await window.EnterAsync(CancellationToken.None);
        await window.EnterAsync(CancellationToken.None);
        window.Take();
        var waiting = window.EnterAsync(CancellationToken.None).AsTask();

        window.Release();

        Assert.Equal(2, window.Used);
        Assert.False(waiting.IsCompleted);
        window.Release();
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, window.Used);
    }

    [Fact]
    public async Task Paused_SumsTheTimeWaitersWaited()
    {
        var clock = new StepClock();
        var window = new InFlightWindow(1, clock);
        await window.EnterAsync(CancellationToken.None);
        var waiting = window.EnterAsync(CancellationToken.None).AsTask();

        clock.Advance(TimeSpan.FromSeconds(3));
        window.Release();
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(TimeSpan.FromSeconds(3), window.Paused);
        Assert.Equal(1, window.Waits);
    }

    [Fact]
    public void Release_NeverGoesBelowZero()
    {
        var window = new InFlightWindow(1, new StepClock());

        window.Release(5);

        Assert.Equal(0, window.Used);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65_536)]
    public void Validator_RefusesAServiceWindowOutsidePacketIds(int size)
    {
        var result = new BrokerOptionsValidator().Validate(null, new BrokerOptions { ServiceWindow = size });

        Assert.True(result.Failed);
        Assert.Contains("Broker:ServiceWindow", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, (ushort)1024, 1024)]
    [InlineData(null, (ushort)8192, 1024)]
    [InlineData(null, (ushort)100, 100)]
    [InlineData(5000, (ushort)8192, 5000)]
    public void TheEmbeddedWindow_FollowsASmallerReceiveMaximum_ButDoesNotGrowWithALargerOne(int? serviceWindow, ushort receiveMaximum, int expected)
    {
        // The subscriber's window is bounded in bytes as well; the embedded broker's session queue is not, so a Receive
        // Maximum raised for larger rounds must not raise what the embedded broker may queue for the service.
        Assert.Equal(expected, new BrokerOptions { ServiceWindow = serviceWindow, ReceiveMaximum = receiveMaximum }.EffectiveServiceWindow);
    }

    [Fact]
    public void Validator_AcceptsTheDefaults()
    {
        Assert.True(new BrokerOptionsValidator().Validate(null, new BrokerOptions()).Succeeded);
    }

    /// <summary>A clock that moves only when told: paused time is then exact.</summary>
    private sealed class StepClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
