using System.Threading.Channels;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Telemetry.Ingest.Hosting;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// The bounded, partitioned pipeline between the MQTT consumer and the grains. A device id always maps to
/// the same partition, so each device's messages stay in order. When a partition's channel is full,
/// <see cref="WriteAsync"/> waits, which stalls the MQTT receive loop: backpressure reaches the broker
/// instead of memory growing; a wait longer than <see cref="PipelineOptions.FullPartitionWarning"/> shows on
/// <c>/health</c> under "pipeline". Each partition runs under a supervisor that logs, counts and restarts it
/// after a fault, so one failure never stalls its devices for good.
/// </summary>
internal sealed partial class IngestPipeline : BackgroundService
{
    public const string Component = "pipeline";

    private readonly Channel<InboundMessage>[] _partitions;
    private readonly PartitionWorker[] _workers;
    private readonly long[] _fullSinceMs;
    private readonly PipelineOptions _options;
    private readonly IngestCounters _counters;
    private readonly ComponentHealth _health;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _abort = new();

    public IngestPipeline(
        IDeviceTwins twins,
        IDeviceReplies replies,
        Storage.IReadingStore store,
        IngestCounters counters,
        IOptions<Uplink.UplinkOptions> uplink,
        IOptions<PipelineOptions> options,
        TimeProvider time,
        ILoggerFactory loggers,
        Uplink.QualityRegistry registry,
        ComponentHealth health,
        SubscriberConnection connection)
    {
        var settings = options.Value;
        _options = settings;
        _counters = counters;
        _health = health;
        _time = time;
        _logger = loggers.CreateLogger<IngestPipeline>();
        _partitions = new Channel<InboundMessage>[settings.Partitions];
        _workers = new PartitionWorker[settings.Partitions];
        _fullSinceMs = new long[settings.Partitions];
        var logger = loggers.CreateLogger<PartitionWorker>();
        var clock = new ServiceClockWatch(settings, health, logger);
        for (var i = 0; i < _partitions.Length; i++)
        {
            _partitions[i] = Channel.CreateBounded<InboundMessage>(new BoundedChannelOptions(settings.ChannelCapacity)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleReader = true,
                SingleWriter = false,
            });
            _workers[i] = new PartitionWorker(_partitions[i].Reader, twins, replies, store, counters, uplink.Value, settings, time, logger,
                registry, health, clock, connection, i);
        }
    }

    /// <summary>Hands a message to its device's partition, waiting while that partition is full.</summary>
    public ValueTask WriteAsync(InboundMessage message, CancellationToken cancellationToken)
    {
        // Stamped before any wait for room: a full partition is part of what the device waits for.
        message = message with { ReceivedAt = _time.GetTimestamp() };
        var partition = PartitionOf(message.DeviceId);
        return _partitions[partition].Writer.TryWrite(message)
            ? ValueTask.CompletedTask
            : WaitForRoomAsync(partition, message, cancellationToken);
    }

    /// <summary>Messages queued across partitions (for health and tests).</summary>
    public int Queued => _partitions.Sum(p => p.Reader.Count);

    /// <summary>Deliveries held for a retry across partitions (for tests).</summary>
    public int Held => _workers.Sum(w => w.HeldMessages);

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Once stopping, a partition finishes its round in flight (store, grain, ack) within the drain timeout,
        // then the round is abandoned unacknowledged.
        stoppingToken.Register(() => _abort.CancelAfter(_options.DrainTimeout));
        var partitions = _workers.Select((_, i) => Task.Run(() => SuperviseAsync(i, stoppingToken), CancellationToken.None));
        return Task.WhenAll([.. partitions, WatchFullPartitionsAsync(stoppingToken)]);
    }

    public override void Dispose()
    {
        _abort.Dispose();
        base.Dispose();
    }

    private async Task SuperviseAsync(int partition, CancellationToken stoppingToken)
    {
        var worker = _workers[partition];
        for (var restarts = 0; ; restarts++)
        {
            try
            {
                await worker.RunAsync(stoppingToken, _abort.Token);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (_abort.IsCancellationRequested)
            {
                // The drain timeout abandoned the round (only a stop starts it): MQTTnet ends an acknowledgement cut off
                // that way with its own timeout exception, and a grain call can end with Orleans' own, not only with a
                // cancellation. No partition to restart, nothing lost: the deliveries stay unacknowledged and come again.
                LogRoundAbandoned(_logger, e, partition);
                return;
            }
            catch (Exception e)
            {
                LogPartitionFailed(_logger, e, partition);
                _counters.PartitionRestarted();
                worker.Recover(e);
            }

            try
            {
                // A fault that repeats at once (a bug on a held message) must not spin a core.
                var pause = Math.Min(_options.RetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(restarts, 30)), _options.MaxRetryDelay.TotalMilliseconds);
                await Task.Delay(TimeSpan.FromMilliseconds(pause), _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async ValueTask WaitForRoomAsync(int partition, InboundMessage message, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _fullSinceMs[partition], _time.GetUtcNow().ToUnixTimeMilliseconds());
        try
        {
            await _partitions[partition].Writer.WriteAsync(message, cancellationToken);
        }
        finally
        {
            Volatile.Write(ref _fullSinceMs[partition], 0);
        }
    }

    /// <summary>Says on <c>/health</c> when the MQTT handler has been waiting for a full partition too long.</summary>
    private async Task WatchFullPartitionsAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                CheckFullPartitions();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Reports (or clears) the "pipeline" component from how long each partition has been full.</summary>
    public void CheckFullPartitions()
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        List<string>? full = null;
        var longest = TimeSpan.Zero;
        for (var i = 0; i < _fullSinceMs.Length; i++)
        {
            var since = Volatile.Read(ref _fullSinceMs[i]);
            var waited = TimeSpan.FromMilliseconds(nowMs - since);
            if (since != 0 && waited >= _options.FullPartitionWarning)
            {
                (full ??= []).Add(FormattableString.Invariant($"partition {i} full for {waited.TotalSeconds:0} s"));
                longest = waited > longest ? waited : longest;
            }
        }

        if (full is null)
        {
            _health.Clear(Component);
            return;
        }

        _health.Report(Component, longest >= _options.UnhealthyAfter ? HealthStatus.Unhealthy : HealthStatus.Degraded,
            string.Join(", ", full) + ": the MQTT receive handler is waiting for it, so no device's messages are taken");
    }

    private int PartitionOf(string deviceId) =>
        (int)((uint)string.GetHashCode(deviceId, StringComparison.Ordinal) % (uint)_partitions.Length);

    [LoggerMessage(Level = LogLevel.Information, Message = "Partition {Partition} did not finish its round within Pipeline:DrainTimeout as the service stopped; its deliveries stay unacknowledged and come again")]
    private static partial void LogRoundAbandoned(ILogger logger, Exception exception, int partition);

    [LoggerMessage(Level = LogLevel.Error, Message = "Partition {Partition} failed; its round in flight is held unacknowledged and the partition restarts")]
    private static partial void LogPartitionFailed(ILogger logger, Exception exception, int partition);
}
