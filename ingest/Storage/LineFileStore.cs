using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Telemetry.Ingest.Hosting;

namespace Telemetry.Ingest.Storage;

/// <summary>
/// The embedded default when no InfluxDB is configured: readings are appended as line protocol to
/// <c>lines/YYYY-MM-DD.lp</c> (UTC day of writing) under the data directory and flushed to disk before they
/// count as stored. Load them with <c>influx -import -path=FILE -precision=ms</c> after adding the
/// <c># DML</c> header, or with <c>influx write --precision ms -f FILE</c> (2.x).
/// <para>Group commit: writes are appended one at a time, and one flush to disk covers every write appended before
/// it started. A write returns once a flush that covers it has finished, so writes that arrive together (the
/// partitions' rounds, an alert storm's events) share one flush instead of queueing one flush each.</para>
/// <para>A write or flush that fails (a full disk, no permission, the directory replaced by a file) fails every
/// write not yet flushed, which are cut off the day file again so that their retries neither duplicate nor tear
/// lines, and makes the store Unhealthy on <c>/health</c> until a write succeeds.</para>
/// </summary>
internal sealed partial class LineFileStore(
    IOptions<StorageOptions> options,
    StorageCounters counters,
    ComponentHealth health,
    TimeProvider time,
    ILogger<LineFileStore> logger)
    : IReadingStore, IDisposable
{
    /// <summary>Appends, flushes, day changes, failures and disposal, one at a time.</summary>
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Guards <see cref="_flushing"/>, which waiting writers read without the gate.</summary>
    private readonly Lock _flushState = new();
    private readonly string _directory = Path.Combine(options.Value.DataDirectory, "lines");
    private FileStream? _file;
    private DateOnly _day;

    /// <summary>Length of the current file known to be on disk: a failure cuts the file back to it.</summary>
    private long _stored;

    /// <summary>
    /// The outcome of every write appended since the last flush or failure, decided once under the gate: true when a
    /// flush has put them on disk, false when a failure cut them off the file again. <see cref="_unflushed"/> says
    /// whether the group has any write.
    /// </summary>
    private TaskCompletionSource<bool> _group = NewGroup();
    private bool _unflushed;
    private Task? _flushing;
    private bool _failing;
    private bool _disposed;

    /// <summary>Flushes the file to disk; replaced in tests to count, hold or fail flushes.</summary>
    internal Action<FileStream> FlushToDisk { get; init; } = static file => file.Flush(flushToDisk: true);

    public async ValueTask<bool> StoreAsync(ReadOnlyMemory<byte> lines, int lineCount, CancellationToken cancellationToken)
    {
        Task<bool> outcome;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_disposed)
            {
                return false;
            }

            var file = FileFor(DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime));
            // Not cancelled part way: half a batch on disk would be neither stored nor cleanly absent.
            await file.WriteAsync(lines, CancellationToken.None);
            _unflushed = true;
            outcome = _group.Task;
        }
        catch (Exception e) when (InfluxStore.IsDiskFailure(e))
        {
            Fail(e);
            return false;
        }
        finally
        {
            _gate.Release();
        }

        while (!outcome.IsCompleted)
        {
            // The first writer to find no flush under way starts one. A flush already under way may have taken the gate
            // before this append; then the next one covers it. A failure decides the group without any flush.
            Task flushing;
            lock (_flushState)
            {
                flushing = _flushing ??= Task.Run(FlushAsync, CancellationToken.None);
            }

            await Task.WhenAny(flushing, outcome);
        }

        if (!await outcome)
        {
            return false;
        }

        counters.AddWritten(lineCount);
        return true;
    }

    public void Dispose()
    {
        // Writers still waiting are answered: stored if a last flush puts them on disk, otherwise not stored and cut off
        // the file. Later writers get false. The gate stays usable for them.
        var entered = _gate.Wait(TimeSpan.FromSeconds(10));
        try
        {
            if (entered && _unflushed && _file is { } file)
            {
                try
                {
                    FlushToDisk(file);
                    _stored = file.Length;
                    Decide(stored: true);
                }
                catch (Exception e) when (InfluxStore.IsDiskFailure(e))
                {
                    Fail(e);
                }
            }

            _disposed = true;
            _group.TrySetResult(false);
            _file?.Dispose();
            _file = null;
        }
        finally
        {
            if (entered)
            {
                _gate.Release();
            }
        }
    }

    private static TaskCompletionSource<bool> NewGroup() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task FlushAsync()
    {
        await _gate.WaitAsync(CancellationToken.None);
        try
        {
            if (_unflushed && (_file is null || _disposed))
            {
                // Cannot happen while every failure decides its group; were it to, nothing could ever flush these
                // writes, and their writers would wait for ever.
                Decide(stored: false);
            }
            else if (_unflushed && _file is { } file)
            {
                FlushToDisk(file);
                _stored = file.Length;
                // Health first: a writer told its write is stored may look at /health at once.
                if (_failing)
                {
                    _failing = false;
                    health.Clear(InfluxStore.HealthComponent);
                    LogRecovered(logger, _directory);
                }

                Decide(stored: true);
            }
        }
        catch (Exception e)
        {
            // Any failure, not only the disk's: writers waiting on this flush must get an answer, and false is safe
            // (not acknowledged, so sent again).
            Fail(e);
        }
        finally
        {
            lock (_flushState)
            {
                _flushing = null;
            }

            _gate.Release();
        }
    }

    /// <summary>Under the gate: completes the writes appended since the last decision, and starts a new group.</summary>
    private void Decide(bool stored)
    {
        var group = _group;
        _group = NewGroup();
        _unflushed = false;
        group.TrySetResult(stored);
    }

    /// <summary>Under the gate: every write not yet on disk fails, and the file is cut back to what is.</summary>
    private void Fail(Exception e)
    {
        LogWriteFailed(logger, e, _directory);
        counters.Failed();
        Abandon();
        // Health before the writers hear of it (a writer told its write failed may look at once), but they hear of it
        // whatever happens.
        try
        {
            _failing = true;
            health.Report(InfluxStore.HealthComponent, HealthStatus.Unhealthy, $"cannot write readings under {_directory}: {e.Message}");
        }
        finally
        {
            Decide(stored: false);
        }
    }

    private FileStream FileFor(DateOnly day)
    {
        if (_file is null || day != _day)
        {
            if (_file is { } previous)
            {
                // Yesterday's file is finished: what was appended to it goes to disk, and its writers are answered,
                // before today's file takes over (a failed flush is the caller's, and cuts yesterday's file back).
                if (_unflushed)
                {
                    FlushToDisk(previous);
                    Decide(stored: true);
                }

                _stored = previous.Length;
                _file = null;
                try
                {
                    previous.Dispose();
                }
                catch (Exception e) when (InfluxStore.IsDiskFailure(e))
                {
                    // Flushed already, and unbuffered: nothing is lost by a failed close.
                }
            }

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
