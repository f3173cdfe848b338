using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Storage;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// One partition of the pipeline. It works in rounds: take what is queued (up to a limit), decode, validate,
/// dedupe and batch each message per device, then make one grain call per device and wait for all of them.
/// Only then are the round's deliveries acknowledged to the broker and acks offered to devices, so a crash
/// at any point means redelivery, never loss. Under light load a round is one message (no added latency);
/// under heavy load rounds grow and batches with them.
/// </summary>
internal sealed partial class PartitionWorker
{
    /// <summary>Devices remembered per partition before the cache starts over (it only saves work).</summary>
    private const int MaxCachedDevices = 200_000;

    private readonly ChannelReader<InboundMessage> _reader;
    private readonly IGrainFactory _grains;
    private readonly IDeviceReplies _replies;
    private readonly IReadingStore _store;
    private readonly LineProtocol _lines = new();
    private readonly IngestCounters _counters;
    private readonly UplinkOptions _uplink;
    private readonly PipelineOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TelemetryDecoder _decoder;
    private readonly DecodedTelemetry _decoded = new();
    private readonly Dictionary<string, DeviceBatchBuilder> _round = new(StringComparer.Ordinal);
    private readonly Stack<DeviceBatchBuilder> _spareBuilders = new();
    private readonly List<InboundMessage> _deliveries = [];
    private readonly Dictionary<string, DeviceCache> _devices = new(StringComparer.Ordinal);

    public PartitionWorker(
        ChannelReader<InboundMessage> reader,
        IGrainFactory grains,
        IDeviceReplies replies,
        IReadingStore store,
        IngestCounters counters,
        UplinkOptions uplink,
        PipelineOptions options,
        TimeProvider time,
        ILogger logger)
    {
        _reader = reader;
        _grains = grains;
        _replies = replies;
        _store = store;
        _counters = counters;
        _uplink = uplink;
        _options = options;
        _time = time;
        _logger = logger;
        _decoder = new TelemetryDecoder(uplink);
    }

    /// <summary>Devices with something to send to their grain in the current round.</summary>
    public IReadOnlyCollection<DeviceBatchBuilder> Round => _round.Values;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (await _reader.WaitToReadAsync(cancellationToken))
        {
            var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
            while (_deliveries.Count < _options.MaxRoundMessages && _reader.TryRead(out var message))
            {
                _deliveries.Add(message);
                Stage(message, nowMs);
            }

            await FlushAsync(cancellationToken);
        }
    }

    /// <summary>Decodes, validates and dedupes one message and adds it to its device's batch.</summary>
    public void Stage(in InboundMessage message, long nowMs)
    {
        if (message.Topic == UplinkTopic.Birth)
        {
            StageBirth(message);
            return;
        }

        var reason = message.IsTooLarge
            ? RejectReason.PayloadTooLarge
            : _decoder.Decode(message.Payload, nowMs, _decoded);
        if (message.IsTooLarge)
        {
            _decoded.Reset();
            _decoded.Detail = $"{message.Length} bytes, limit {TelemetryDecoder.MaxPayloadBytes}";
        }

        if (reason != RejectReason.None)
        {
            Report(new ErrorReport(message.DeviceId, _decoded.Boot, _decoded.Seq, null, reason, _decoded.Detail ?? reason.WireName()), "message");
            if (_decoded.Boot is { } rejectedBoot && _decoded.Seq is { } rejectedSeq)
            {
                // A message that can never be accepted still counts as handled, so the device moves on.
                BuilderFor(message.DeviceId).AddHandled(new MessageKey(rejectedBoot, rejectedSeq));
                _counters.MessageHandled();
            }

            return;
        }

        var key = new MessageKey(_decoded.Boot!, _decoded.Seq!.Value);
        var device = CacheFor(message.DeviceId);
        if (!device.TryTake(nowMs, _uplink.RateLimitPerSecond, _uplink.RateLimitBurst))
        {
            // Not handled and not acked: the device keeps the message and resends it after its timeout.
            Report(new ErrorReport(message.DeviceId, key.Boot, key.Seq, null, RejectReason.RateLimited,
                FormattableString.Invariant($"more than {_uplink.RateLimitPerSecond} messages/s (burst {_uplink.RateLimitBurst}); resend later")), "message");
            return;
        }

        var builder = BuilderFor(message.DeviceId);
        _counters.MessageHandled();
        if (device.Confirmed.IsDuplicate(key) || builder.Contains(key))
        {
            // Seen before: acknowledged again, never applied again.
            _counters.Duplicate(1);
            builder.AddHandled(key);
            return;
        }

        if (_decoded.RejectedReadings > 0)
        {
            var readings = _decoded.ReadingSpan;
            for (var i = 0; i < readings.Length; i++)
            {
                if (readings[i].Reason != RejectReason.None)
                {
                    Report(new ErrorReport(message.DeviceId, key.Boot, key.Seq, i, readings[i].Reason, readings[i].Detail!), "reading");
                }
            }
        }

        builder.AddAccepted(key, _decoded);
        _counters.ReadingsAccepted(_decoded.ReadingCount - _decoded.RejectedReadings);
    }

    /// <summary>
    /// Stores the round's readings durably, then sends the batches to their grains, then acknowledges what
    /// they accepted. The store comes first: a grain that has seen a message treats its redelivery as a
    /// duplicate, so the readings must be safe before it sees them. Storing twice is harmless (a point
    /// written again is the same point).
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        HashSet<string>? failed = null;
        if (_round.Count > 0)
        {
            var builders = new List<DeviceBatchBuilder>(_round.Values);
            await LearnBirthsAsync(builders, cancellationToken);
            // A device whose birth could not be learned waits for redelivery rather than being stored untagged.
            foreach (var unknown in builders.Where(b => !CacheFor(b.DeviceId).BirthKnown && b.ReadingCount > 0).ToList())
            {
                Fail(ref failed, unknown.DeviceId);
                builders.Remove(unknown);
            }

            _lines.Clear();
            foreach (var builder in builders)
            {
                builder.WriteLines(_lines, CacheFor(builder.DeviceId).Birth);
            }

            if (!await _store.StoreAsync(_lines.Written, _lines.LineCount, cancellationToken))
            {
                // Nothing of this round is acknowledged; the broker and the devices send it again.
                foreach (var builder in builders)
                {
                    Fail(ref failed, builder.DeviceId);
                }

                builders.Clear();
            }

            var calls = new Task<(TelemetryBatch Batch, IngestResult? Result)>[builders.Count];
            for (var i = 0; i < builders.Count; i++)
            {
                calls[i] = CallGrainAsync(builders[i].DeviceId, builders[i].Build(), cancellationToken);
            }

            await Task.WhenAll(calls);
            for (var i = 0; i < builders.Count; i++)
            {
                var (batch, result) = await calls[i];
                var deviceId = builders[i].DeviceId;
                if (result is null)
                {
                    Fail(ref failed, deviceId);
                }
                else
                {
                    var cache = CacheFor(deviceId);
                    foreach (var message in batch.Messages)
                    {
                        cache.Confirmed.Record(message.Key);
                    }

                    foreach (var ack in result.Acks)
                    {
                        _replies.Ack(deviceId, ack);
                    }
                }
            }

            ReleaseRound();
        }

        foreach (var delivery in _deliveries)
        {
            if (failed is null || !failed.Contains(delivery.DeviceId))
            {
                await AcknowledgeAsync(delivery, cancellationToken);
            }

            delivery.Release();
        }

        _deliveries.Clear();
    }

    private static void Fail(ref HashSet<string>? failed, string deviceId) =>
        (failed ??= new HashSet<string>(StringComparer.Ordinal)).Add(deviceId);

    /// <summary>Asks the grains of devices new to this partition for their birth, which tags stored readings.</summary>
    private async Task LearnBirthsAsync(List<DeviceBatchBuilder> builders, CancellationToken cancellationToken)
    {
        List<(DeviceCache Cache, Task<DeviceBirth?> Call, string DeviceId)>? calls = null;
        foreach (var builder in builders)
        {
            var cache = CacheFor(builder.DeviceId);
            if (!cache.BirthKnown && builder.ReadingCount > 0)
            {
                (calls ??= []).Add((cache, _grains.GetGrain<IDeviceGrain>(builder.DeviceId).GetBirthAsync(), builder.DeviceId));
            }
        }

        foreach (var (cache, call, deviceId) in calls ?? [])
        {
            try
            {
                cache.Birth = await call.WaitAsync(cancellationToken);
                cache.BirthKnown = true;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // Left unknown: the device's messages wait for redelivery rather than being stored untagged.
                LogGrainCallFailed(_logger, e, deviceId, 1);
            }
        }
    }

    /// <summary>Returns the round's builders for reuse and starts an empty round.</summary>
    public void ReleaseRound()
    {
        foreach (var builder in _round.Values)
        {
            _spareBuilders.Push(builder);
        }

        _round.Clear();
    }

    private void StageBirth(in InboundMessage message)
    {
        if (message.Length == 0 && !message.IsTooLarge)
        {
            // An empty retained payload clears the birth at the broker; there is nothing to apply.
            return;
        }

        RejectReason reason;
        string? detail;
        DeviceBirth? birth;
        if (message.IsTooLarge)
        {
            (birth, reason, detail) = (null, RejectReason.PayloadTooLarge, $"{message.Length} bytes, limit {TelemetryDecoder.MaxPayloadBytes}");
        }
        else
        {
            birth = BirthDecoder.Decode(message.Payload, out reason, out detail);
        }

        if (birth is null)
        {
            Report(new ErrorReport(message.DeviceId, null, null, null, reason, detail ?? reason.WireName()), "birth");
            return;
        }

        BuilderFor(message.DeviceId).Birth = birth;
        var cache = CacheFor(message.DeviceId);
        cache.Birth = birth;
        cache.BirthKnown = true;
    }

    private async Task<(TelemetryBatch, IngestResult?)> CallGrainAsync(string deviceId, TelemetryBatch batch, CancellationToken cancellationToken)
    {
        var grain = _grains.GetGrain<IDeviceGrain>(deviceId);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return (batch, await grain.IngestAsync(batch));
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                LogGrainCallFailed(_logger, e, deviceId, attempt);
                if (attempt >= _options.GrainAttempts)
                {
                    // Leave the deliveries unacknowledged: the broker redelivers after a reconnect and the
                    // device resends after its timeout. Nothing is lost; the dedupe makes the repeat harmless.
                    _counters.GrainFailed();
                    return (batch, null);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100 * (1 << (2 * (attempt - 1)))), _time, cancellationToken);
            }
        }
    }

    private async Task AcknowledgeAsync(InboundMessage delivery, CancellationToken cancellationToken)
    {
        if (delivery.Delivery is null)
        {
            return;
        }

        try
        {
            await delivery.Delivery.AcknowledgeAsync(cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // The connection went away; the broker will redeliver and the dedupe absorbs it.
            LogBrokerAckFailed(_logger, e, delivery.DeviceId);
        }
    }

    private void Report(in ErrorReport report, string level)
    {
        _counters.Rejected(report.Reason, level);
        if (!_replies.Error(report))
        {
            _counters.ErrorDropped();
        }
    }

    private DeviceBatchBuilder BuilderFor(string deviceId)
    {
        if (!_round.TryGetValue(deviceId, out var builder))
        {
            builder = _spareBuilders.Count > 0 ? _spareBuilders.Pop() : new DeviceBatchBuilder();
            builder.Start(deviceId);
            _round.Add(deviceId, builder);
        }

        return builder;
    }

    private DeviceCache CacheFor(string deviceId)
    {
        if (!_devices.TryGetValue(deviceId, out var cache))
        {
            if (_devices.Count >= MaxCachedDevices)
            {
                _devices.Clear();
            }

            cache = new DeviceCache(_uplink.RateLimitBurst);
            _devices.Add(deviceId, cache);
        }

        return cache;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain call for device {DeviceId} failed (attempt {Attempt})")]
    private static partial void LogGrainCallFailed(ILogger logger, Exception exception, string deviceId, int attempt);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Broker acknowledgement for a message of {DeviceId} failed")]
    private static partial void LogBrokerAckFailed(ILogger logger, Exception exception, string deviceId);
}
