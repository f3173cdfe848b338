namespace Telemetry.Ingest.Twins;

internal sealed partial class SqliteGrainStorage
{
    [LoggerMessage(Level = LogLevel.Error, Message = "Writing a batch of {Count} twins to SQLite failed; none of them is stored and each caller retries")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The SQLite twin writer did not finish its queued batches within 10 s of shutdown; callers still waiting are not acknowledged and retry after restart")]
    private static partial void LogWriterStuck(ILogger logger);
}
