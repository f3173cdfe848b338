using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Grains.Quality;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// The silo's exposure collector: device rounds' reports merged per device and handed to each batch grain in one
/// call per flush; nothing dropped when a batch grain fails, and the rest sent at stop.
/// </summary>
public sealed class ExposureCollectorTests
{
    private readonly ConcurrentQueue<(string Model, string Batch, ExposureReport[] Reports)> _sent = new();
    private readonly HashSet<string> _failing = new(StringComparer.Ordinal);
    private readonly HashSet<string> _timingOut = new(StringComparer.Ordinal);

    private ExposureCollector Collector() => new(
        (model, batch, reports) =>
        {
            if (_failing.Contains(batch))
            {
                return Task.FromException(new InvalidOperationException("batch grain could not be activated"));
            }

            if (_timingOut.Contains(batch))
            {
                return Task.FromException(new TimeoutException("no response within 30 s"));
            }

            _sent.Enqueue((model, batch, reports));
            return Task.CompletedTask;
        },
        new FakeTimeProvider(), NullLogger<ExposureCollector>.Instance);

    private static ExposureReport Report(string device, string batch, long first, long last, params (int Day, double Km)[] km) =>
        new(device, "shoe", "m1", batch, first, last, km.Length == 0 ? null : km.ToDictionary(k => k.Day, k => k.Km));

    [Fact]
    public async Task RoundsOfOneDevice_AreMergedIntoOneReport_AndEachBatchGetsOneCall()
    {
        using var collector = Collector();
        collector.Add(Report("a", "b1", 100, 200, (1, 1.5)));
        collector.Add(Report("a", "b1", 50, 150, (1, 0.5), (2, 3)));
        collector.Add(Report("a", "b1", 300, 400));
        collector.Add(Report("b", "b1", 10, 20, (2, 1)));
        collector.Add(Report("c", "b2", 10, 20, (2, 7)));

        await collector.FlushAsync();

        var calls = _sent.ToDictionary(s => s.Batch);
        Assert.Equal(2, calls.Count);
        var a = Assert.Single(calls["b1"].Reports, r => r.Device == "a");
        Assert.Equal((50L, 400L), (a.FirstReadingMs, a.LastReadingMs));
        Assert.Equal(new Dictionary<int, double> { [1] = 2.0, [2] = 3.0 }, a.KmByDay);
        Assert.Equal(2, calls["b1"].Reports.Length);
        Assert.Equal(7, Assert.Single(calls["b2"].Reports).DistanceKm);
        Assert.Equal(0, collector.Pending);
    }

    [Fact]
    public async Task AReportIsNotChangedByLaterRoundsMergedIntoIt()
    {
        using var collector = Collector();
        var first = Report("a", "b1", 100, 200, (1, 1.5));
        collector.Add(first);
        collector.Add(Report("a", "b1", 100, 200, (1, 1)));

        await collector.FlushAsync();

        Assert.Equal(1.5, first.KmByDay![1]);
        Assert.Equal(2.5, Assert.Single(Assert.Single(_sent).Reports).KmByDay![1]);
    }

    [Fact]
    public async Task ABatchGrainThatFails_KeepsItsReportsForTheNextFlush_OthersAreSent()
    {
        using var collector = Collector();
        _failing.Add("down");
        collector.Add(Report("a", "down", 1, 2, (1, 4)));
        collector.Add(Report("b", "up", 1, 2, (1, 1)));

        await collector.FlushAsync();
        Assert.Equal("up", Assert.Single(_sent).Batch);
        Assert.Equal(1, collector.Pending);

        // Meanwhile the device ran again; once the grain is back it gets both rounds, once.
        collector.Add(Report("a", "down", 2, 3, (1, 1)));
        _failing.Clear();
        await collector.FlushAsync();

        var down = Assert.Single(_sent, s => s.Batch == "down");
        Assert.Equal(5, Assert.Single(down.Reports).DistanceKm);
        Assert.Equal(0, collector.Pending);
    }

    /// <summary>A call that timed out may have been applied by the batch grain: sending it again could count its
    /// kilometres twice, so it is dropped (exposure is best effort), not kept.</summary>
    [Fact]
    public async Task ABatchGrainThatTimesOut_IsNotSentTheSameKilometresAgain()
    {
        using var collector = Collector();
        _timingOut.Add("slow");
        collector.Add(Report("a", "slow", 1, 2, (1, 4)));

        await collector.FlushAsync();
        _timingOut.Clear();
        await collector.FlushAsync();

        Assert.Empty(_sent);
        Assert.Equal(0, collector.Pending);
    }

    [Fact]
    public async Task Stopping_SendsWhatIsLeft_AndLaterReportsGoStraightToTheirBatch()
    {
        using var collector = Collector();
        await collector.StartAsync(CancellationToken.None);
        collector.Add(Report("a", "b1", 1, 2, (1, 1)));

        await collector.StopAsync(CancellationToken.None);
        Assert.Equal("a", Assert.Single(Assert.Single(_sent).Reports).Device);

        collector.Add(Report("late", "b1", 1, 2, (1, 1)));
        Assert.Equal(2, _sent.Count);
        Assert.Equal(0, collector.Pending);
    }
}
