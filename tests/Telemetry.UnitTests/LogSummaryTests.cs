using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using System.Diagnostics.Metrics;
using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Summary;
using Telemetry.Tests;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class LogSummaryTests
{
    private static readonly IMeterFactory Meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

    [Fact]
    public async Task AfterTenSeconds_LogsOneLine_WithWhatHappenedInThem()
    {
        var (summary, log, time, counters, alerts, tally) = Make(TimeSpan.FromSeconds(10));
        await summary.StartAsync(CancellationToken.None);

        counters.ReadingsAccepted(12_340);
        counters.DeliveryReceived();
        counters.DeliveryReceived();
        counters.DeliveryReceived();
        counters.DeliveryAcknowledged();
        tally.AlertRaised();
        tally.AlertRaised();
        alerts.Escalation(AlertSeverity.Critical, AlertCodes.ShoeReplaceNow);
        tally.BatchStatus("trail-2", "B07", "elevated");
        tally.BatchStatus("trail-2", "B08", "watch");
        time.Advance(TimeSpan.FromSeconds(10));

        await Until.DoneAsync(() => log.Lines.Count == 1, "the summary line");
        var line = Assert.Single(log.Lines);
        Assert.Equal(("Telemetry.Ingest.Summary.LogSummary", LogLevel.Information), (line.Category, line.Level));
        Assert.Equal("Last 10 s: 1234 readings/s, 2 acks waiting, 2 alerts raised, 1 escalated, 1 batches elevated", line.Text);
        await summary.StopAsync(CancellationToken.None);
    }

    [Fact]
    public void Describe_CountsOnlyItsOwnInterval_AndAnIdleIntervalSaysNothing()
    {
        var at10 = new LogSummary.Figures(Readings: 500, AcksWaiting: 0, AlertsRaised: 1, AlertsEscalated: 0, BatchesElevated: 1);
        var at40 = at10 with { Readings = 530 };

        Assert.Null(LogSummary.Describe(at10, at10, TimeSpan.FromSeconds(10)));
        Assert.Equal(new LogSummary.Line(30, 1, 0, 0, 0, 1), LogSummary.Describe(at10, at40, TimeSpan.FromSeconds(30)));
        // A batch that stops being elevated is news even when nothing else moved.
        Assert.Equal(new LogSummary.Line(10, 0, 0, 0, 0, 0), LogSummary.Describe(at10, at10 with { BatchesElevated = 0 }, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Describe_AcksStillWaiting_IsNotIdle()
    {
        var stuck = new LogSummary.Figures(Readings: 100, AcksWaiting: 7, AlertsRaised: 0, AlertsEscalated: 0, BatchesElevated: 0);

        var line = LogSummary.Describe(stuck, stuck, TimeSpan.FromSeconds(10));

        Assert.Equal(new LogSummary.Line(10, 0, 7, 0, 0, 0), line);
        Assert.Null(LogSummary.Describe(stuck with { AcksWaiting = 0 }, stuck with { AcksWaiting = 0 }, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task IntervalZero_TurnsTheLineOff()
    {
        var (summary, log, time, counters, _, _) = Make(TimeSpan.Zero);
        await summary.StartAsync(CancellationToken.None);
        counters.ReadingsAccepted(500);
        time.Advance(TimeSpan.FromMinutes(1));

        await summary.ExecuteTask!;
        Assert.Empty(log.Lines);
        Assert.True(new LogSummaryOptionsValidator().Validate(null, new LogSummaryOptions { Interval = TimeSpan.Zero }).Succeeded);
        Assert.Equal(
            "Logging:Summary:Interval must be 00:00:00 (off) or between 1 s and 1 hour (was 00:00:00.5000000).",
            new LogSummaryOptionsValidator().Validate(null, new LogSummaryOptions { Interval = TimeSpan.FromMilliseconds(500) }).FailureMessage);
    }

    private static (LogSummary Summary, CapturedLog Log, FakeTimeProvider Time, IngestCounters Counters, AlertMetrics Alerts, ActivityTally Tally) Make(TimeSpan interval)
    {
        var log = new CapturedLog();
        var factory = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Information));
        var time = new FakeTimeProvider();
        var counters = new IngestCounters(Meters);
        var alerts = new AlertMetrics(Meters);
        var tally = new ActivityTally();
        var summary = new LogSummary(counters, alerts, tally, Options.Create(new LogSummaryOptions { Interval = interval }), time, factory.CreateLogger<LogSummary>());
        return (summary, log, time, counters, alerts, tally);
    }
}
