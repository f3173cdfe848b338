using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Telemetry.Ingest.Hosting;

namespace Telemetry.Ingest.Storage;

/// <summary>
/// The embedded default when no InfluxDB is configured: readings are appended as line protocol to
/// <c>lines/YYYY-MM-DD.lp</c> (UTC day of writing) under the data directory and flushed to disk before they
/// count as stored. Load them with <c>influx -import -path=FILE -precision=ms</c> after adding the
/// <c># DML</c> header, or with <c>influx write --precision ms -f FILE</c> (2.x).
/// <para>A write that fails (a full disk, no permission, the directory replaced by a file) is not
/// acknowledged, is cut off the day file again so that its retry neither duplicates nor tears lines, and
/// makes the store Unhealthy on <c>/health</c> until a write succeeds.</para>
/// </summary>
internal sealed partial class LineFileStore(
    IOptions<StorageOptions> options,
    StorageCounters counters,
    ComponentHealth health,
    TimeProvider time,
    ILogger<LineFileStore> logger)
    : IReadingStore, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly string _directory = Path.Combine(options.Value.DataDirectory, "lines");
    private FileStream? _file;
    private DateOnly _day;
    private long _stored;
    private bool _failing;

    public async ValueTask<bool> StoreAsync(ReadOnlyMemory<byte> lines, int lineCount, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var file = FileFor(DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime));
            // Not cancelled part way: half a batch on disk would be neither stored nor cleanly absent.
            await file.WriteAsync(lines, CancellationToken.None);
            file.Flush(flushToDisk: true);
            _stored += lines.Length;
            counters.AddWritten(lineCount);
            if (_failing)
            {
                _failing = false;
                health.Clear(InfluxStore.HealthComponent);
                LogRecovered(logger, _directory);
            }

            return true;
        }
        catch (Exception e) when (InfluxStore.IsDiskFailure(e))
        {
            LogWriteFailed(logger, e, _directory);
            counters.Failed();
            Abandon();
            _failing = true;
            health.Report(InfluxStore.HealthComponent, HealthStatus.Unhealthy, $"cannot write readings under {_directory}: {e.Message}");
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
            _file = null;
            Directory.CreateDirectory(_directory);

            // Unbuffered: after a failed write a FileStream buffer would be written again on dispose, adding
            // bytes that were never acknowledged. Each write is one whole batch anyway.
            var file = new FileStream(Path.Combine(_directory, $"{day:yyyy-MM-dd}.lp"), FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
            _stored = file.Length;
            _file = file;
            _day = day;
        }

        return _file;
    }

    /// <summary>Drops the file after a failure and cuts it back to what was acknowledged, if it can.</summary>
    private void Abandon()
    {
        var file = _file;
        _file = null;
        if (file is null)
        {
            return;
        }

        try
        {
            if (file.Length > _stored)
            {
                file.SetLength(_stored);
            }
        }
        catch (Exception e) when (InfluxStore.IsDiskFailure(e))
        {
            // The retry will append the lines again; a torn or repeated line in a day file is loaded once
            // (same series and time) or refused alone by influx -import.
        }
        finally
        {
            try
            {
                file.Dispose();
            }
            catch (Exception e) when (InfluxStore.IsDiskFailure(e))
            {
                // Unbuffered: nothing is lost by a failed close.
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not append readings under {Directory}; their messages stay unacknowledged")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Writing readings under {Directory} again")]
    private static partial void LogRecovered(ILogger logger, string directory);
}
