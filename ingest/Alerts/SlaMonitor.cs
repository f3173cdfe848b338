using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;

namespace Telemetry.Ingest.Alerts;

/// <summary>First-response deadlines per severity. Section <c>Alerts</c>.</summary>
public sealed class AlertsOptions
{
    public const string SectionName = "Alerts";

    /// <summary>Time to first response (acknowledgement) before an alert escalates.</summary>
    public SlaOptions Sla { get; set; } = new();

    /// <summary>How often deadlines are checked. Default 1 minute.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Defaults from DOMAIN.md: most users expect a first response within 2 hours; 24 hours is the baseline.</summary>
public sealed class SlaOptions
{
    public TimeSpan Critical { get; set; } = TimeSpan.FromHours(2);

    public TimeSpan Warning { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Info alerts have no deadline unless set.</summary>
    public TimeSpan? Info { get; set; }

    public TimeSpan? For(AlertSeverity severity) => severity switch
    {
        AlertSeverity.Critical => Critical,
        AlertSeverity.Warning => Warning,
        _ => Info,
    };
}

/// <summary>
/// Escalates alerts that nobody acknowledged within their severity's SLA: on every tick of a timer driven
/// by the service's <see cref="TimeProvider"/> (so tests move time instead of waiting), raised alerts past
/// their deadline are escalated by their device grain, which publishes the change. Escalations are counted.
/// </summary>
internal sealed partial class SlaMonitor(
    IGrainFactory grains,
    IOptions<AlertsOptions> options,
    [FromKeyedServices(SlaMonitor.ClockKey)] TimeProvider time,
    IMeterFactory meters,
    ILogger<SlaMonitor> logger) : BackgroundService
{
    private readonly Counter<long> _escalations = meters.Create(Pipeline.IngestCounters.MeterName)
        .CreateCounter<long>("telemetry.alerts.escalations", description: "Alerts escalated for missing their first-response SLA");

    /// <summary>The clock deadlines are checked against (the system clock; tests replace it to move time).</summary>
    public const string ClockKey = "alerts";

    private long _escalated;

    public long Escalated => Interlocked.Read(ref _escalated);

    /// <summary>Alerts still only raised whose deadline has passed at <paramref name="now"/>.</summary>
    public static IEnumerable<AlertSummary> Due(IEnumerable<AlertSummary> raised, SlaOptions sla, DateTimeOffset now) =>
        raised.Where(a => a.State == AlertState.Raised && sla.For(a.Severity) is { } limit && a.RaisedAt + limit <= now);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CheckInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await CheckAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            var index = grains.GetGrain<IAlertIndexGrain>(0);
            var raised = await index.QueryAsync(new AlertFilter { State = AlertState.Raised }, 0, IndexPage);
            var sla = options.Value.Sla;
            foreach (var alert in Due(raised.Items, sla, time.GetUtcNow()))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var limit = sla.For(alert.Severity)!.Value;
                var change = await grains.GetGrain<IDeviceGrain>(alert.Device).ChangeAlertAsync(alert.Id, AlertState.Escalated, "system",
                    $"No response within the {Describe(limit)} first-response SLA for {ReplyLower(alert.Severity)} alerts.");
                if (change.Outcome == AlertChangeOutcome.Changed)
                {
                    Interlocked.Increment(ref _escalated);
                    _escalations.Add(1, new KeyValuePair<string, object?>("severity", ReplyLower(alert.Severity)));
                    LogEscalated(logger, alert.Id, alert.Device, alert.Code);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogCheckFailed(logger, e);
        }
    }

    private const int IndexPage = 10_000;

    private static string ReplyLower(AlertSeverity severity) => Mqtt.ReplyJson.Lower(severity);

    private static string Describe(TimeSpan limit) => limit.TotalHours >= 1
        ? FormattableString.Invariant($"{limit.TotalHours:0.#} h")
        : FormattableString.Invariant($"{limit.TotalMinutes:0.#} min");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert {AlertId} ({Code}) of {Device} escalated: SLA missed")]
    private static partial void LogEscalated(ILogger logger, string alertId, string device, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SLA check failed; it runs again at the next tick")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}
