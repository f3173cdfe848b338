namespace Telemetry.Ingest.Summary;

internal sealed partial class LogSummary
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Last {Seconds:0} s: {ReadingsPerSecond:0} readings/s, {AcksWaiting} acks waiting, {AlertsRaised} alerts raised, {AlertsEscalated} escalated, {BatchesElevated} batches elevated")]
    private static partial void LogSummaryLine(ILogger logger, double seconds, double readingsPerSecond, long acksWaiting, long alertsRaised, long alertsEscalated, int batchesElevated);
}
