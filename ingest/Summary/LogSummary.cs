using Microsoft.Extensions.Options;
using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Pipeline;

namespace Telemetry.Ingest.Summary;

/// <summary>
/// One log line every <see cref="LogSummaryOptions.Interval"/> that says what the service did, in place of a line per
/// alert (those are at Debug). A line that would only say "nothing happened" is left out: an idle service stays quiet,
/// and its last line is the last thing it did. Acks still waiting are never idle: they are what a stuck pipeline shows.
/// </summary>
internal sealed partial class LogSummary(
    IngestCounters counters, AlertMetrics alerts, ActivityTally tally, IOptions<LogSummaryOptions> options, TimeProvider time,
    ILogger<LogSummary> logger) : BackgroundService
{
    private PeriodicTimer? _timer;
    private Figures _last;
    private long _lastAt;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Here rather than in ExecuteAsync, which runs on another thread: the first line counts from the start.
        if (options.Value.Interval != TimeSpan.Zero)
        {
            _timer = new PeriodicTimer(options.Value.Interval, time);
            (_last, _lastAt) = (Take(), time.GetTimestamp());
        }

        return base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _timer?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_timer is null)
        {
            return;
        }

        try
        {
            while (await _timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = Take();
                var at = time.GetTimestamp();
                if (Describe(_last, now, time.GetElapsedTime(_lastAt, at)) is { } line)
                {
                    LogSummaryLine(logger, line.Seconds, line.ReadingsPerSecond, line.AcksWaiting, line.AlertsRaised, line.AlertsEscalated, line.BatchesElevated);
                }

                (_last, _lastAt) = (now, at);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private Figures Take() => new(counters.Readings, counters.DeliveriesOutstanding, tally.AlertsRaised, alerts.Escalated, tally.BatchesElevated);

    /// <summary>The line for the span from <paramref name="last"/> to <paramref name="now"/>, or null when it would say nothing.</summary>
    internal static Line? Describe(Figures last, Figures now, TimeSpan elapsed)
    {
        var readings = now.Readings - last.Readings;
        var raised = now.AlertsRaised - last.AlertsRaised;
        var escalated = now.AlertsEscalated - last.AlertsEscalated;
        if (readings == 0 && raised == 0 && escalated == 0 && now.AcksWaiting == 0 && now.BatchesElevated == last.BatchesElevated)
        {
            return null;
        }

        var seconds = Math.Max(elapsed.TotalSeconds, 0.001);
        return new Line(Math.Round(elapsed.TotalSeconds), readings / seconds, now.AcksWaiting, raised, escalated, now.BatchesElevated);
    }

    /// <summary>The running totals (and the two levels: acks waiting, batches elevated) at one moment.</summary>
    internal readonly record struct Figures(long Readings, long AcksWaiting, long AlertsRaised, long AlertsEscalated, int BatchesElevated);

    internal sealed record Line(double Seconds, double ReadingsPerSecond, long AcksWaiting, long AlertsRaised, long AlertsEscalated, int BatchesElevated);
}
