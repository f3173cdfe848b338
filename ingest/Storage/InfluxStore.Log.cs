namespace Telemetry.Ingest.Storage;

internal sealed partial class InfluxStore
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB at {Url}: could not create database {Database} ({Reason}); it is created again when a write finds it missing")]
    private static partial void LogDatabaseNotCreated(ILogger logger, string url, string database, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Found {Bytes} bytes in the spill file from an earlier run; replaying them before new writes")]
    private static partial void LogSpillFound(ILogger logger, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB unavailable: spilling {Lines} lines to disk; they will be replayed in order")]
    private static partial void LogSpilling(ILogger logger, int lines);

    [LoggerMessage(Level = LogLevel.Information, Message = "InfluxDB spill replayed: writing directly again")]
    private static partial void LogCaughtUp(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB write failed after {Attempts} attempts: {Message}")]
    private static partial void LogWriteFailed(ILogger logger, int attempts, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "InfluxDB will not take our writes until its configuration or ours is fixed: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB refused a line; dead-lettered: {Message}")]
    private static partial void LogDeadLettered(ILogger logger, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not write a dead letter under {Directory}; the line is kept and tried again")]
    private static partial void LogDeadLetterFailed(ILogger logger, Exception exception, string directory);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not append to the spill file under {Directory}; the writes stay unacknowledged")]
    private static partial void LogSpillFailed(ILogger logger, Exception exception, string directory);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not read the spill file under {Directory}; replay is retried")]
    private static partial void LogSpillReadFailed(ILogger logger, Exception exception, string directory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the replay position under {Directory}; replay goes on, a restart would repeat some lines")]
    private static partial void LogCursorFailed(ILogger logger, Exception exception, string directory);

    [LoggerMessage(Level = LogLevel.Error, Message = "The InfluxDB writer failed unexpectedly; writes in hand stay unacknowledged and the writer resumes after a pause")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}
