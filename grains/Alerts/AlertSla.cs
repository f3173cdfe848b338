using System.Diagnostics.Metrics;

namespace Telemetry.Grains.Alerts;

/// <summary>First-response deadlines per severity. Section <c>Alerts</c>.</summary>
public sealed class AlertsOptions
{
    public const string SectionName = "Alerts";

    /// <summary>Time to first response (acknowledgement) before an alert escalates.</summary>
    public SlaOptions Sla { get; set; } = new();
}

/// <summary>Defaults from DOMAIN.md: most users expect a first response within 2 hours; 24 hours is the baseline.</summary>
public sealed class SlaOptions
{
    /// <summary>The longest a deadline may be: the grain timer waits at most this long at a time.</summary>
    public static readonly TimeSpan Longest = TimeSpan.FromDays(365);

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

    /// <summary>When an alert must have had its first response, or null if its severity has no SLA.</summary>
    public DateTimeOffset? Deadline(AlertSummary alert) => For(alert.Severity) is { } limit ? alert.RaisedAt + limit : null;

    /// <summary>Alerts still only raised whose deadline has passed at <paramref name="now"/>.</summary>
    public IEnumerable<AlertSummary> Due(IEnumerable<AlertSummary> alerts, DateTimeOffset now) =>
        alerts.Where(a => a.State == AlertState.Raised && Deadline(a) <= now);

    public static string Describe(TimeSpan limit) => limit.TotalHours >= 1
        ? FormattableString.Invariant($"{limit.TotalHours:0.#} h")
        : FormattableString.Invariant($"{limit.TotalMinutes:0.#} min");
}

/// <summary>Counts escalations, for <c>/api/ingest/stats</c> and the <c>telemetry.alerts.escalations</c> metric.</summary>
public sealed class AlertMetrics
{
    public const string MeterName = "Telemetry.Ingest";

    private readonly Counter<long> _escalations;
    private long _escalated;

    public AlertMetrics(IMeterFactory meters)
    {
        _escalations = meters.Create(MeterName).CreateCounter<long>("telemetry.alerts.escalations", description: "Alerts escalated for missing their first-response SLA");
    }

    public long Escalated => Interlocked.Read(ref _escalated);

    public void Escalation(AlertSeverity severity)
    {
        Interlocked.Increment(ref _escalated);
        _escalations.Add(1, new KeyValuePair<string, object?>("severity", severity.ToString().ToLowerInvariant()));
    }
}
