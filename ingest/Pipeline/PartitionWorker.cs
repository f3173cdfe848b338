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
    private readonly QualityRegistry _registry;
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
        ILogger logger,
        QualityRegistry? registry = null)
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
        _registry = registry ?? QualityRegistry.Open;
    }

    /// <summary>Devices with something to send to their grain in the current round.</summary>
    public IReadOnlyCollection<DeviceBatchBuilder> Round => _round.Values;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (await _reader.WaitToReadAsync(cancellationToken))
        {
            while (_deliveries.Count < _options.MaxRoundMessages && _reader.TryRead(out var message))
            {
                _deliveries.Add(message);
            }

            // Devices new to this partition are looked up first (one grain call each, together), so that
            // staging knows their birth and metric names; one whose twin cannot be read waits for redelivery.
            var unknown = await LearnDevicesAsync(cancellationToken);
            var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var message in _deliveries)
            {
                if (unknown is null || !unknown.Contains(message.DeviceId))
                {
                    StageGuarded(message, nowMs);
                }
            }

            await FlushAsync(unknown, cancellationToken);
        }
    }

    /// <summary>
    /// <see cref="Stage"/>, but a payload that makes the service itself fail (a decoder bug the fuzzer has not
    /// found yet) is rejected as malformed and logged, not allowed to end the partition: one device's bytes must
    /// never stop every other device's ingest.
    /// </summary>
    private void StageGuarded(in InboundMessage message, long nowMs)
    {
        try
        {
            Stage(message, nowMs);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Staging changes the device's batch only once a message is fully read, so its other messages of the
            // round stand; this one is dropped (acknowledged) like any payload that can never be read.
            LogStageFailed(_logger, e, message.DeviceId, message.Length);
            Report(new ErrorReport(message.DeviceId, null, null, null, RejectReason.MalformedJson,
                "the service could not read this payload; it has been logged for investigation"), message.Topic == UplinkTopic.Birth ? "birth" : "message");
        }
    }

    /// <summary>Decodes, validates and dedupes one message and adds it to its device's batch.</summary>
    public void Stage(in InboundMessage message, long nowMs)
    {
        if (message.Topic == UplinkTopic.Birth)
        {
            StageBirth(message, nowMs);
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

        // Every message spends a token, whatever it holds: a flood of broken messages costs the service an error
        // report each (and a twin write for those with a key), so it is limited like a flood of good ones.
        var device = CacheFor(message.DeviceId);
        if (!device.TryTakeMessage(nowMs, _uplink.RateLimitPerSecond, _uplink.RateLimitBurst))
        {
            // Not handled and not acked: the device keeps the message and resends it after its timeout.
            Report(new ErrorReport(message.DeviceId, _decoded.Boot, _decoded.Seq, null, RejectReason.RateLimited,
                FormattableString.Invariant($"more than {_uplink.RateLimitPerSecond} messages/s (burst {_uplink.RateLimitBurst}); resend later")), "message");
            return;
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

        var builder = BuilderFor(message.DeviceId);
        _counters.MessageHandled();
        if (device.Confirmed.IsDuplicate(key) || builder.Contains(key))
        {
            // Seen before: acknowledged again, never applied again.
            _counters.Duplicate(1);
            builder.AddHandled(key);
            return;
        }

        if (_decoded.HasCustomMetrics)
        {
            CapCustomMetrics(device, message.DeviceId);
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
    /// <param name="failed">Devices whose deliveries must not be acknowledged (their twin could not be read).</param>
    /// <param name="cancellationToken">Stops the round.</param>
    public async Task FlushAsync(HashSet<string>? failed, CancellationToken cancellationToken)
    {
        if (_round.Count > 0)
        {
            var builders = new List<DeviceBatchBuilder>(_round.Values);
            _lines.Clear();
            foreach (var builder in builders)
            {
                // A birth in this round tags the round's readings; otherwise the one the grain holds.
                builder.WriteLines(_lines, builder.Birth ?? CacheFor(builder.DeviceId).Birth);
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
                        // A message the grain refused (too many gaps) is not handled: its resend must reach the grain.
                        if (result.Refused is null || Array.IndexOf(result.Refused, message.Key) < 0)
                        {
                            cache.Confirmed.Record(message.Key);
                        }
                    }

                    // Only now does the grain hold the birth: a birth of a failed round must not be skipped as
                    // "unchanged" when it comes again.
                    cache.Birth = batch.Birth ?? cache.Birth;

                    foreach (var ack in result.Acks)
                    {
                        _replies.Ack(deviceId, ack, result.MissingFor(ack.Boot));
                    }

                    // Not applied and not acked: the device keeps them and resends once it has filled its gaps.
                    foreach (var key in result.Refused ?? [])
                    {
                        Report(new ErrorReport(deviceId, key.Boot, key.Seq, null, RejectReason.RateLimited, "too many gaps before this seq; send the missing seqs (see the ack) first"), "message");
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

    /// <summary>
    /// Asks the grains of this round's devices that are new to the partition for their profile: the birth that tags
    /// stored readings and the metric names they have sent. Returns the devices whose grain did not answer.
    /// </summary>
    private async Task<HashSet<string>?> LearnDevicesAsync(CancellationToken cancellationToken)
    {
        Dictionary<string, Task<IngestProfile>>? calls = null;
        foreach (var delivery in _deliveries)
        {
            if (!CacheFor(delivery.DeviceId).Learned && (calls is null || !calls.ContainsKey(delivery.DeviceId)))
            {
                (calls ??= new(StringComparer.Ordinal))[delivery.DeviceId] = _grains.GetGrain<IDeviceGrain>(delivery.DeviceId).GetIngestProfileAsync();
            }
        }

        HashSet<string>? unknown = null;
        foreach (var (deviceId, call) in calls ?? [])
        {
            try
            {
                Remember(deviceId, await call.WaitAsync(cancellationToken));
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // Left unknown: the device's messages wait for redelivery rather than being stored untagged.
                LogGrainCallFailed(_logger, e, deviceId, 1);
                Fail(ref unknown, deviceId);
            }
        }

        return unknown;
    }

    /// <summary>Takes what the twin knows of a device: its birth and the metric names outside the catalogue it has sent.</summary>
    public void Remember(string deviceId, IngestProfile profile)
    {
        var cache = CacheFor(deviceId);
        cache.Birth = profile.Birth;
        foreach (var name in profile.Metrics)
        {
            if (!MetricCatalogue.Contains(name))
            {
                cache.CustomMetrics.Add(name);
            }
        }

        cache.Learned = true;
    }

    /// <summary>
    /// Rejects (<c>too_many_metrics</c>) each accepted reading that would take the device past
    /// <see cref="UplinkOptions.MaxCustomMetrics"/> distinct names outside the catalogue; a reading within the
    /// cap records its new names.
    /// </summary>
    private void CapCustomMetrics(DeviceCache device, string deviceId)
    {
        var limit = _uplink.MaxCustomMetrics;
        for (var i = 0; i < _decoded.ReadingCount; i++)
        {
            var reading = _decoded.Readings[i];
            if (reading.Reason != RejectReason.None)
            {
                continue;
            }

            var metrics = _decoded.Metrics.AsSpan(reading.MetricStart, reading.MetricCount);
            var added = 0;
            string? first = null;
            foreach (var metric in metrics)
            {
                if (!MetricCatalogue.Contains(metric.Name) && !device.CustomMetrics.Contains(metric.Name))
                {
                    first ??= metric.Name;
                    added++;
                }
            }

            if (added == 0)
            {
                continue;
            }

            if (device.CustomMetrics.Count + added > limit)
            {
                _decoded.RejectReading(i, RejectReason.TooManyMetrics, FormattableString.Invariant(
                    $"'{first}' would take {deviceId} past {limit} metric names outside the catalogue; send only the names it already uses"));
                continue;
            }

            foreach (var metric in metrics)
            {
                if (!MetricCatalogue.Contains(metric.Name))
                {
                    device.CustomMetrics.Add(metric.Name);
                }
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

    private void StageBirth(in InboundMessage message, long nowMs)
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

        birth = birth with { Unregistered = !_registry.Accepts(birth.Model, birth.Batch) };
        var cache = CacheFor(message.DeviceId);
        var pending = _round.TryGetValue(message.DeviceId, out var staged) ? staged.Birth : null;
        if (cache.Learned && birth == (pending ?? cache.Birth))
        {
            // Devices send their birth on every connect; the same birth again changes nothing and costs nothing.
            return;
        }

        if (!cache.TryTakeBirth(nowMs, _uplink.BirthRateLimitPerHour, _uplink.BirthRateLimitBurst))
        {
            // Each changed birth is a twin write, and may be a part replacement or a new model and batch.
            Report(new ErrorReport(message.DeviceId, null, null, null, RejectReason.RateLimited, FormattableString.Invariant(
                $"more than {_uplink.BirthRateLimitPerHour} changed births an hour (burst {_uplink.BirthRateLimitBurst}); send it again later")), "birth");
            return;
        }

        if (birth.Unregistered)
        {
            _counters.BirthUnregistered();
            LogUnregistered(_logger, message.DeviceId, birth.Model, birth.Batch);
        }

        BuilderFor(message.DeviceId).Birth = birth;
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

            cache = new DeviceCache();
            _devices.Add(deviceId, cache);
        }

        return cache;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain call for device {DeviceId} failed (attempt {Attempt})")]
    private static partial void LogGrainCallFailed(ILogger logger, Exception exception, string deviceId, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reading a {Length}-byte payload of device {DeviceId} failed; it was rejected as malformed")]
    private static partial void LogStageFailed(ILogger logger, Exception exception, string deviceId, int length);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Device {DeviceId} names model '{Model}' and batch '{Batch}', not in Quality:KnownModels/KnownBatches: kept out of the defect rates")]
    private static partial void LogUnregistered(ILogger logger, string deviceId, string model, string batch);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Broker acknowledgement for a message of {DeviceId} failed")]
    private static partial void LogBrokerAckFailed(ILogger logger, Exception exception, string deviceId);
}
