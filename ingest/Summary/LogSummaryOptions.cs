namespace Telemetry.Ingest.Summary;

/// <summary>The periodic summary line of the service's log. Section <c>Logging:Summary</c>.</summary>
public sealed class LogSummaryOptions
{
    public const string SectionName = "Logging:Summary";

    /// <summary>
    /// How often the service logs what it did (readings/s, acks waiting, alerts raised and escalated, batches elevated),
    /// at Information under <c>Telemetry.Ingest.Summary.LogSummary</c>. <c>00:00:00</c> turns the line off. Between 1 s
    /// and 1 hour otherwise. Default 10 s.
    /// </summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);
}
