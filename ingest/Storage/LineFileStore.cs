using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Storage;

/// <summary>
/// The embedded default when no InfluxDB is configured: readings are appended as line protocol to
/// <c>lines/YYYY-MM-DD.lp</c> (UTC day of writing) under the data directory and flushed to disk before they
/// count as stored. Load them with <c>influx -import -path=FILE -precision=ms</c> after adding the
/// <c># DML</c> header, or with <c>influx write --precision ms -f FILE</c> (2.x).
/// </summary>
internal sealed partial class LineFileStore(IOptions<StorageOptions> options, StorageCounters counters, TimeProvider time, ILogger<LineFileStore> logger)
    : IReadingStore, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly string _directory = Path.Combine(options.Value.DataDirectory, "lines");
    private FileStream? _file;
    private DateOnly _day;

    public async ValueTask<bool> StoreAsync(ReadOnlyMemory<byte> lines, int lineCount, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var file = FileFor(DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime));
            await file.WriteAsync(lines, cancellationToken);
            file.Flush(flushToDisk: true);
            counters.AddWritten(lineCount);
            return true;
        }
        catch (IOException e)
        {
            LogWriteFailed(logger, e, _directory);
            counters.Failed();
            _file?.Dispose();
            _file = null;
            return false;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _file?.Dispose();
        _gate.Dispose();
    }

    private FileStream FileFor(DateOnly day)
    {
        if (_file is null || day != _day)
        {
            _file?.Dispose();
            Directory.CreateDirectory(_directory);
            _file = new FileStream(Path.Combine(_directory, $"{day:yyyy-MM-dd}.lp"), FileMode.Append, FileAccess.Write, FileShare.Read, 1 << 16);
            _day = day;
        }

        return _file;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not append readings under {Directory}; their messages stay unacknowledged")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string directory);
}
