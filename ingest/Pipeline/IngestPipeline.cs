using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// The bounded, partitioned pipeline between the MQTT consumer and the grains. A device id always maps to
/// the same partition, so each device's messages stay in order. When a partition's channel is full,
/// <see cref="WriteAsync"/> waits, which stalls the MQTT receive loop: backpressure reaches the broker
/// instead of memory growing.
/// </summary>
internal sealed class IngestPipeline : BackgroundService
{
    private readonly Channel<InboundMessage>[] _partitions;
    private readonly PartitionWorker[] _workers;

    public IngestPipeline(
        IGrainFactory grains,
        IDeviceReplies replies,
        Storage.IReadingStore store,
        IngestCounters counters,
        IOptions<Uplink.UplinkOptions> uplink,
        IOptions<PipelineOptions> options,
        TimeProvider time,
        ILoggerFactory loggers,
        Uplink.QualityRegistry registry)
    {
        var settings = options.Value;
        _partitions = new Channel<InboundMessage>[settings.Partitions];
        _workers = new PartitionWorker[settings.Partitions];
        var logger = loggers.CreateLogger<PartitionWorker>();
        for (var i = 0; i < _partitions.Length; i++)
        {
            _partitions[i] = Channel.CreateBounded<InboundMessage>(new BoundedChannelOptions(settings.ChannelCapacity)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleReader = true,
                SingleWriter = false,
            });
            _workers[i] = new PartitionWorker(_partitions[i].Reader, grains, replies, store, counters, uplink.Value, settings, time, logger, registry);
        }
    }

    /// <summary>Hands a message to its device's partition, waiting while that partition is full.</summary>
    public ValueTask WriteAsync(InboundMessage message, CancellationToken cancellationToken) =>
        _partitions[PartitionOf(message.DeviceId)].Writer.WriteAsync(message, cancellationToken);

    /// <summary>Messages queued across partitions (for health and tests).</summary>
    public int Queued => _partitions.Sum(p => p.Reader.Count);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_workers.Select(w => Task.Run(() => w.RunAsync(stoppingToken), stoppingToken)));

    private int PartitionOf(string deviceId) =>
        (int)((uint)string.GetHashCode(deviceId, StringComparison.Ordinal) % (uint)_partitions.Length);
}
