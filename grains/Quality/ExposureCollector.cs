using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Telemetry.Grains.Quality;

/// <summary>
/// Gathers the device grains' exposure reports in this silo and hands them to each (model, batch) grain once per
/// <see cref="FlushInterval"/>, merged per device: one call per batch and interval instead of one per device and
/// round. A fleet coming back used to queue one message per device behind its batch's grain, 100,000 for a batch of
/// 100,000 devices, which Orleans then walked on every turn and every workload check.
/// Exposure was already best effort (the batch grain saves it behind, losing at most its save interval in a crash);
/// this adds at most one interval to what a crash can lose. At silo stop the rest is flushed before the grains
/// deactivate, and a report that arrives after that goes to its batch grain directly.
/// </summary>
internal sealed partial class ExposureCollector : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    internal static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);

    private readonly Func<string, string, ExposureReport[], Task> _send;
    private readonly TimeProvider _time;
    private readonly ILogger<ExposureCollector> _logger;
    private readonly Lock _lock = new();
    private Dictionary<(string Model, string Batch), Dictionary<string, ExposureReport>> _pending = [];
    private CancellationTokenSource? _stop;
    private Task? _loop;
    private bool _stopped;

    public ExposureCollector(IGrainFactory grains, TimeProvider time, ILogger<ExposureCollector> logger)
        : this((model, batch, reports) => QualityGrains.Batch(grains, model, batch).ReportExposuresAsync(reports), time, logger)
    {
    }

    /// <summary>With what sends one batch's reports (tests).</summary>
    internal ExposureCollector(Func<string, string, ExposureReport[], Task> send, TimeProvider time, ILogger<ExposureCollector> logger)
    {
        _send = send;
        _time = time;
        _logger = logger;
    }

    /// <summary>Reports waiting for the next flush.</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _pending.Values.Sum(d => d.Count);
            }
        }
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ExposureCollector), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    /// <summary>Takes a device's report of one round; never blocks on a grain.</summary>
    public void Add(ExposureReport report)
    {
        lock (_lock)
        {
            if (!_stopped)
            {
                Merge(_pending, report);
                return;
            }
        }

        // Stopping: no flush will come any more.
        _ = SendAsync(report.Model, report.Batch, [report]);
    }

    /// <summary>
    /// Sends what has been gathered, one call per (model, batch). A batch whose call failed is kept for the next flush,
    /// unless it timed out: the batch grain may have applied it (it never fails once it has), and kilometres sent
    /// twice would count twice, so those are dropped and logged, as a lost one-way report was before.
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        Dictionary<(string Model, string Batch), Dictionary<string, ExposureReport>> taken;
        lock (_lock)
        {
            if (_pending.Count == 0)
            {
                return;
            }

            taken = _pending;
            _pending = [];
        }

        var sends = taken.Select(async pair =>
        {
            try
            {
                await _send(pair.Key.Model, pair.Key.Batch, [.. pair.Value.Values]).WaitAsync(cancellationToken);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                LogFlushDropped(_logger, e, pair.Key.Model, pair.Key.Batch, pair.Value.Count);
            }
            catch (Exception e)
            {
                lock (_lock)
                {
                    if (_stopped)
                    {
                        LogFlushDropped(_logger, e, pair.Key.Model, pair.Key.Batch, pair.Value.Count);
                        return;
                    }

                    foreach (var report in pair.Value.Values)
                    {
                        Merge(_pending, report);
                    }
                }

                LogFlushFailed(_logger, e, pair.Key.Model, pair.Key.Batch, pair.Value.Count);
            }
        });
        await Task.WhenAll(sends);
    }

    private async Task SendAsync(string model, string batch, ExposureReport[] reports)
    {
        try
        {
            await _send(model, batch, reports);
        }
        catch (Exception e)
        {
            LogFlushDropped(_logger, e, model, batch, reports.Length);
        }
    }

    /// <summary>Adds a round's report to what waits for its device: kilometres add up per day, the span widens.</summary>
    internal static void Merge(Dictionary<(string Model, string Batch), Dictionary<string, ExposureReport>> pending, ExposureReport report)
    {
        var key = (report.Model, report.Batch);
        if (!pending.TryGetValue(key, out var devices))
        {
            pending[key] = devices = new(StringComparer.Ordinal);
        }

        if (!devices.TryGetValue(report.Device, out var waiting))
        {
            devices[report.Device] = report with { KmByDay = report.KmByDay is null ? null : new(report.KmByDay) };
            return;
        }

        var kmByDay = waiting.KmByDay;
        if (report.KmByDay is { Count: > 0 })
        {
            kmByDay ??= [];
            foreach (var (day, km) in report.KmByDay)
            {
                kmByDay[day] = kmByDay.GetValueOrDefault(day) + km;
            }
        }

        devices[report.Device] = waiting with
        {
            Kind = report.Kind.Length > 0 ? report.Kind : waiting.Kind,
            FirstReadingMs = Math.Min(waiting.FirstReadingMs, report.FirstReadingMs),
            LastReadingMs = Math.Max(waiting.LastReadingMs, report.LastReadingMs),
            KmByDay = kmByDay,
        };
    }

    internal Task StartAsync(CancellationToken cancellationToken)
    {
        _stop = new CancellationTokenSource();
        _loop = RunAsync(_stop.Token);
        return Task.CompletedTask;
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(FlushInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                // Not cut short by stopping: reports in a call would be lost. StopAsync bounds the wait instead.
                await FlushAsync(CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopping: the last flush is StopAsync's.
        }
    }

    internal async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stop is not null)
        {
            await _stop.CancelAsync();
            try
            {
                // A flush in progress finishes first, unless the silo's stop runs out of time.
                await (_loop ?? Task.CompletedTask).WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                LogStopCut(_logger);
            }
        }

        lock (_lock)
        {
            _stopped = true;
        }

        await FlushAsync(cancellationToken);
    }

    public void Dispose() => _stop?.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The silo stopped before the exposure collector's last flush completed")]
    private static partial void LogStopCut(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Exposure of {Model}/{Batch} ({Devices} devices) could not be handed to its batch grain; kept for the next flush")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception, string model, string batch, int devices);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Exposure of {Model}/{Batch} ({Devices} devices) was dropped: its batch grain timed out (it may have counted it) or the silo is stopping")]
    private static partial void LogFlushDropped(ILogger logger, Exception exception, string model, string batch, int devices);
}
