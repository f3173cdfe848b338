using Telemetry.Grains.Alerts;

namespace Telemetry.Ingest.Console;

/// <summary>One open alert in the queue, with its first-response deadline (none for severities without an SLA).</summary>
internal sealed record QueueRow(AlertSummary Alert, DateTimeOffset? Deadline)
{
    public string Id => Alert.Id;

    public string ModelBatch => Alert.Model is null ? "" : $"{Alert.Model} / {Alert.Batch}";

    /// <summary>Queue order: escalated first, then what waits for a first response by deadline, then the rest newest first.</summary>
    public static IEnumerable<QueueRow> Ordered(IEnumerable<QueueRow> rows) => rows
        .OrderBy(r => r.Alert.State switch { AlertState.Escalated => 0, AlertState.Raised => 1, _ => 2 })
        .ThenBy(r => r.Alert.State == AlertState.Raised ? r.Deadline ?? DateTimeOffset.MaxValue : DateTimeOffset.MaxValue)
        .ThenByDescending(r => r.Alert.RaisedAt);

    /// <summary>
    /// The first-response column: a countdown while the alert waits for one, how long overdue it is once the deadline
    /// passed (the SLA monitor escalates it then), or that it has had its response.
    /// </summary>
    public (string Text, bool Overdue) FirstResponse(DateTimeOffset now)
    {
        if (Alert.State == AlertState.Acknowledged)
        {
            return ("responded", false);
        }

        if (Deadline is not { } deadline)
        {
            return (Alert.State == AlertState.Escalated ? "escalated" : "no deadline", Alert.State == AlertState.Escalated);
        }

        var left = deadline - now;
        return left > TimeSpan.Zero && Alert.State != AlertState.Escalated
            ? (Duration(left), false)
            : ($"escalated · overdue {Duration(-left)}", true);
    }

    /// <summary>h:mm:ss under a day, otherwise days and hours.</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.Zero)
        {
            span = TimeSpan.Zero;
        }

        return span.TotalHours >= 48
            ? FormattableString.Invariant($"{(int)span.TotalDays}d {span.Hours}h")
            : FormattableString.Invariant($"{(int)span.TotalHours}:{span.Minutes:00}:{span.Seconds:00}");
    }
}
