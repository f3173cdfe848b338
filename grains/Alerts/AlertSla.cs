using System.Diagnostics.Metrics;

namespace Telemetry.Grains.Alerts;

/// <summary>First-response deadlines per severity, and the language of alerts. Section <c>Alerts</c>.</summary>
public sealed class AlertsOptions
{
    public const string SectionName = "Alerts";

    /// <summary>The language of wearer-facing messages for devices whose birth names no <c>locale</c>: <c>en</c>
    /// (default) or <c>zh-CN</c>, in any case.</summary>
    public string DefaultLocale { get; set; } = AlertLocales.En;

    /// <summary><see cref="DefaultLocale"/> in the service's form (<c>zh-cn</c> is <c>zh-CN</c>); start-up refuses any
    /// other value, so <c>en</c> is only a guard.</summary>
    public string NormalizedDefaultLocale => AlertLocales.TryNormalize(DefaultLocale, out var locale) ? locale : AlertLocales.En;

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

/// <summary>
/// Alert metrics on the <c>Telemetry.Ingest</c> meter: escalations (counted once, by the alert index that escalates),
/// every alert event the host delivered (by state, code and severity), and the alerts open now (a gauge of what the
/// alert index last reported, by state). Escalations are also in <c>/api/ingest/stats</c>.
/// </summary>
public sealed class AlertMetrics
{
    public const string MeterName = "Telemetry.Ingest";

    private static readonly AlertState[] OpenStates = [AlertState.Raised, AlertState.Acknowledged, AlertState.Escalated];

    private readonly Counter<long> _escalations;
    private readonly Counter<long> _events;
    private readonly long[] _open = new long[OpenStates.Length];
    private long _escalated;
    private int _openKnown;

    public AlertMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _escalations = meter.CreateCounter<long>("telemetry.alerts.escalated", description: "Alerts escalated for missing their first-response SLA, by severity and code");
        _events = meter.CreateCounter<long>("telemetry.alert.events", description:
            "Alert events delivered (MQTT, feed, store, webhook queue), by state, code and severity; a delivery retried after a failure counts again");
        meter.CreateObservableGauge("telemetry.alerts.open", ObserveOpen, description:
            "Alerts not resolved, by state, as the alert index last reported them (polled; the same cluster-wide figure on every instance)");
    }

    public long Escalated => Interlocked.Read(ref _escalated);

    public void Escalation(AlertSeverity severity, string code)
    {
        Interlocked.Increment(ref _escalated);
        _escalations.Add(1,
            new KeyValuePair<string, object?>("severity", severity.ToString().ToLowerInvariant()),
            new KeyValuePair<string, object?>("code", code));
    }

    /// <summary>Every destination has <paramref name="alert"/>.</summary>
    public void Delivered(AlertEvent alert) => _events.Add(1,
        new KeyValuePair<string, object?>("state", alert.State.ToString().ToLowerInvariant()),
        new KeyValuePair<string, object?>("code", alert.Code),
        new KeyValuePair<string, object?>("severity", alert.Severity.ToString().ToLowerInvariant()));

    /// <summary>The states whose counts <see cref="SetOpen"/> takes.</summary>
    public static IReadOnlyList<AlertState> OpenAlertStates => OpenStates;

    /// <summary>The alert index's counts of alerts in <paramref name="state"/> (one of <see cref="OpenAlertStates"/>).</summary>
    public void SetOpen(AlertState state, long count)
    {
        Interlocked.Exchange(ref _open[Array.IndexOf(OpenStates, state)], count);
        Volatile.Write(ref _openKnown, 1);
    }

    private IEnumerable<Measurement<long>> ObserveOpen()
    {
        // Nothing until the index has answered once: a 0 before that would read as "no open alerts".
        if (Volatile.Read(ref _openKnown) == 0)
        {
            yield break;
        }

        for (var i = 0; i < OpenStates.Length; i++)
        {
            yield return new Measurement<long>(Interlocked.Read(ref _open[i]), new KeyValuePair<string, object?>("state", OpenStates[i].ToString().ToLowerInvariant()));
        }
    }
}
