using System.Threading.Channels;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Storage;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// One partition of the pipeline. It works in rounds: take what is queued (up to a limit), decode, validate,
/// dedupe and batch each message per device, then make one grain call per device and wait for all of them.
/// Only then are the round's deliveries acknowledged to the broker and acks offered to devices, so a crash
/// at any point means redelivery, never loss. Under light load a round is one message (no added latency);
/// under heavy load rounds grow and batches with them.
/// <para>
/// A delivery whose round fails (the store refused it, its grain call failed, its twin could not be read, or its
/// readings are ahead of a service clock suspected to be slow) is held, unacknowledged, and tried again after a
/// capped exponential backoff until it succeeds. Its device's later messages wait behind it, so per-device order
/// holds; other devices keep flowing. While anything is held, <c>/health</c> names the cause under
/// <c>partition/N</c>.
/// </para>
/// </summary>
internal sealed partial class PartitionWorker
{
    /// <summary>Devices remembered per partition before the cache starts over (it only saves work).</summary>
    private const int MaxCachedDevices = 200_000;

    private readonly ChannelReader<InboundMessage> _reader;
    private readonly IDeviceTwins _twins;
    private readonly IDeviceReplies _replies;
    private readonly IReadingStore _store;
    private readonly LineProtocol _lines = new();
    private readonly IngestCounters _counters;
    private readonly UplinkOptions _uplink;
    private readonly PipelineOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TelemetryDecoder _decoder;
    private readonly CborTelemetryDecoder _cborDecoder;
    private readonly QualityRegistry _registry;
    private readonly DecodedTelemetry _decoded = new();
    private readonly Dictionary<string, DeviceBatchBuilder> _round = new(StringComparer.Ordinal);
    private readonly Stack<DeviceBatchBuilder> _spareBuilders = new();
    private readonly List<InboundMessage> _deliveries = [];
    private readonly List<Task> _acknowledging = [];
    private readonly Dictionary<string, DeviceCache> _devices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HeldDevice> _held = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HoldCause> _failures = new(StringComparer.Ordinal);
    private readonly ComponentHealth? _health;
    private readonly ServiceClockWatch _clock;
    private readonly SubscriberConnection? _connection;
    private readonly string _component;
    private readonly Random _jitter;
    private int _heldMessages;
    private int _retries;
    private DateTimeOffset _retryAt;
    private bool _restaging;

    /// <summary>The message being staged was held for the clock before (see <see cref="InboundMessage.ClockHeld"/>).</summary>
    private bool _clockHeld;
    private (DateTimeOffset At, string Error)? _fault;

    public PartitionWorker(
        ChannelReader<InboundMessage> reader,
        IDeviceTwins twins,
        IDeviceReplies replies,
        IReadingStore store,
        IngestCounters counters,
        UplinkOptions uplink,
        PipelineOptions options,
        TimeProvider time,
        ILogger logger,
        QualityRegistry? registry = null,
        ComponentHealth? health = null,
        ServiceClockWatch? clock = null,
        SubscriberConnection? connection = null,
        int partition = 0)
    {
        _reader = reader;
        _twins = twins;
        _replies = replies;
        _store = store;
        _counters = counters;
        _uplink = uplink;
        _options = options;
        _time = time;
        _logger = logger;
        _decoder = new TelemetryDecoder(uplink);
        _cborDecoder = new CborTelemetryDecoder(uplink);
        _registry = registry ?? QualityRegistry.Open;
        _health = health;
        _clock = clock ?? new ServiceClockWatch(options, health, logger);
        _connection = connection;
        _component = FormattableString.Invariant($"partition/{partition}");
        // Seeded per partition: retries spread out the same way in every run, and partitions do not retry in step.
        _jitter = new Random(partition);
    }

    /// <summary>Why a device's deliveries are held.</summary>
    private enum HoldCause
    {
        Store,
        Twins,
        Clock,
        Fault,

        /// <summary>Waiting for a birth another instance may be applying (<see cref="PipelineOptions.BirthWait"/>): no fault.</summary>
        Birth,
    }

    /// <summary>A device's held deliveries, in arrival order, since when it has been failing, and why.</summary>
    private sealed class HeldDevice(DateTimeOffset since)
    {
        public Queue<InboundMessage> Messages { get; } = new();

        public DateTimeOffset Since { get; } = since;

        public HoldCause Cause { get; set; }
    }

    /// <summary>Deliveries held unacknowledged for a retry.</summary>
    public int HeldMessages => _heldMessages;

    /// <summary>Devices with something to send to their grain in the current round.</summary>
    public IReadOnlyCollection<DeviceBatchBuilder> Round => _round.Values;

    public Task RunAsync(CancellationToken cancellationToken) => RunAsync(cancellationToken, cancellationToken);

    /// <summary>Works rounds until <paramref name="stoppingToken"/> fires, then returns after the round in flight.</summary>
    /// <param name="stoppingToken">Stops taking new rounds.</param>
    /// <param name="abortToken">Abandons the round in flight; its deliveries stay unacknowledged and come again.</param>
    public async Task RunAsync(CancellationToken stoppingToken, CancellationToken abortToken)
    {
        while (await WaitForWorkAsync(stoppingToken))
        {
            // A retry takes every held delivery back, first, so each device's held messages keep their place
            // ahead of its new ones.
            var retrying = _held.Count > 0 && _time.GetUtcNow() >= _retryAt;
            var retried = retrying ? TakeHeld() : 0;
            // A retry round also takes a full round of new messages: when one failing device has filled the held
            // list, the other devices of the partition still get a round per retry, not one message.
            while (_deliveries.Count < retried + _options.MaxRoundMessages
                && _heldMessages < _options.MaxHeldMessages
                && _reader.TryRead(out var message))
            {
                if (!retrying && _held.TryGetValue(message.DeviceId, out var held))
                {
                    // Its device is failing: it must not overtake the messages held before it.
                    Hold(held, message);
                }
                else
                {
                    _deliveries.Add(message);
                }
            }

            if (_deliveries.Count == 0)
            {
                continue;
            }

            // Devices new to this partition are looked up first (one grain call each, together), so that
            // staging knows their birth and metric names; one whose twin cannot be read is held.
            await LearnDevicesAsync(abortToken);
            var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
            for (var i = 0; i < _deliveries.Count; i++)
            {
                var message = _deliveries[i];
                if (_failures.ContainsKey(message.DeviceId))
                {
                    // Held with the device's earlier message of this round.
                    continue;
                }

                _restaging = message.Staged;
                _clockHeld = message.ClockHeld;
                if (StageGuarded(message, nowMs))
                {
                    _deliveries[i] = message with { Staged = true };
                }
                else
                {
                    _failures[message.DeviceId] = HoldCause.Clock;
                    _deliveries[i] = message with { ClockHeld = true };
                }
            }

            _restaging = false;
            _clockHeld = false;
            await FlushAsync(null, abortToken);
            AfterRound(retrying);
        }

        // Stopping: what is still held goes back unacknowledged; the broker redelivers it to the next run.
        ReleaseHeld();
    }

    /// <summary>
    /// Waits for messages, or for the next retry of held deliveries, whichever comes first. False when the
    /// service stops, or the channel is completed and nothing is held.
    /// </summary>
    private async Task<bool> WaitForWorkAsync(CancellationToken stoppingToken)
    {
        if (stoppingToken.IsCancellationRequested)
        {
            return false;
        }

        try
        {
            if (_held.Count == 0)
            {
                return await _reader.WaitToReadAsync(stoppingToken);
            }

            var delay = _retryAt - _time.GetUtcNow();
            if (delay <= TimeSpan.Zero)
            {
                return true;
            }

            if (_heldMessages >= _options.MaxHeldMessages)
            {
                await Task.Delay(delay, _time, stoppingToken);
                return true;
            }

            using var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var read = _reader.WaitToReadAsync(wake.Token).AsTask();
            var retry = Task.Delay(delay, _time, wake.Token);
            await Task.WhenAny(read, retry);
            await wake.CancelAsync();
            if (read.IsCompletedSuccessfully && !read.Result)
            {
                // Completed channel: nothing new comes, but what is held is still owed a retry.
                await Task.Delay(delay, _time, stoppingToken);
            }

            return !stoppingToken.IsCancellationRequested;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Moves every held delivery into the round, device by device in arrival order.</summary>
    private int TakeHeld()
    {
        var count = 0;
        var current = _connection?.Current ?? 0;
        foreach (var held in _held.Values)
        {
            while (held.Messages.TryDequeue(out var message))
            {
                if (message.Delivery is not null && message.Connection != current)
                {
                    // Received on a connection that is gone: it cannot be acknowledged any more, and the broker
                    // redelivers it on the new one, where its copy takes its place.
                    _counters.DeliveryAbandoned();
                    message.Release();
                    continue;
                }

                _deliveries.Add(message);
                count++;
            }
        }

        _heldMessages = 0;
        return count;
    }

    private void Hold(HeldDevice held, InboundMessage message)
    {
        held.Messages.Enqueue(message);
        _heldMessages++;
    }

    /// <summary>Forgets devices that recovered, schedules the next retry and tells <c>/health</c>.</summary>
    private void AfterRound(bool retried)
    {
        foreach (var (deviceId, held) in _held)
        {
            if (held.Messages.Count == 0)
            {
                _held.Remove(deviceId);
            }
        }

        var now = _time.GetUtcNow();
        if (_held.Count == 0)
        {
            _retries = 0;
            _fault = null;
        }
        else if (retried || _retryAt <= now)
        {
            // 100 ms doubling to 5 s by default; jitter keeps partitions (and services) from retrying in step.
            var delay = Math.Min(_options.RetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(_retries, 30)), _options.MaxRetryDelay.TotalMilliseconds);
            _retries++;
            _retryAt = now + TimeSpan.FromMilliseconds(delay * (0.5 + (0.5 * _jitter.NextDouble())));
        }

        _clock.Refresh(now.ToUnixTimeMilliseconds());
        ReportHealth(now);
    }

    private void ReportHealth(DateTimeOffset now)
    {
        if (_health is null)
        {
            return;
        }

        var failing = 0;
        foreach (var held in _held.Values)
        {
            failing += held.Cause == HoldCause.Birth ? 0 : 1;
        }

        if (failing == 0 && _fault is null)
        {
            // Nothing held, or only devices waiting for their birth: a cluster's normal course, not a fault.
            _health.Clear(_component);
            return;
        }

        var reasons = new List<string>();
        var oldest = now;
        foreach (var cause in (ReadOnlySpan<HoldCause>)[HoldCause.Twins, HoldCause.Store, HoldCause.Clock, HoldCause.Fault])
        {
            var devices = 0;
            var since = now;
            foreach (var held in _held.Values)
            {
                if (held.Cause == cause)
                {
                    devices++;
                    since = held.Since < since ? held.Since : since;
                }
            }

            if (devices == 0)
            {
                continue;
            }

            oldest = since < oldest ? since : oldest;
            reasons.Add(cause switch
            {
                HoldCause.Twins => FormattableString.Invariant($"twins: grain calls failing for {devices} devices since {since:O}"),
                HoldCause.Store => FormattableString.Invariant($"store: writes failing for {devices} devices since {since:O}"),
                HoldCause.Clock => FormattableString.Invariant($"clock: {devices} devices held for readings ahead of the service clock since {since:O}"),
                _ => FormattableString.Invariant($"{devices} devices held since {since:O} after the partition failed"),
            });
        }

        if (_fault is { } fault)
        {
            reasons.Add(FormattableString.Invariant($"restarted after a fault at {fault.At:O}: {fault.Error}"));
        }

        var status = now - oldest >= _options.UnhealthyAfter ? HealthStatus.Unhealthy : HealthStatus.Degraded;
        var text = string.Join("; ", reasons);
        if (_held.Count > 0)
        {
            text += FormattableString.Invariant($" ({_heldMessages} deliveries held unacknowledged, retrying)");
        }

        _health.Report(_component, status, text);
    }

    /// <summary>
    /// After <see cref="RunAsync(CancellationToken, CancellationToken)"/> threw: the round in flight is held for
    /// a retry (none of it was acknowledged), so that the supervisor can start the partition again.
    /// </summary>
    public void Recover(Exception fault)
    {
        var now = _time.GetUtcNow();
        _fault = (now, fault.GetType().Name + ": " + fault.Message);
        foreach (var delivery in _deliveries)
        {
            HoldFor(delivery, _failures.TryGetValue(delivery.DeviceId, out var cause) ? cause : HoldCause.Fault);
        }

        _deliveries.Clear();
        _failures.Clear();
        _restaging = false;
        ReleaseRound();
        _retryAt = now;
        AfterRound(retried: true);
    }

    /// <summary>Returns the buffers of held deliveries at shutdown; they stay unacknowledged.</summary>
    private void ReleaseHeld()
    {
        foreach (var held in _held.Values)
        {
            while (held.Messages.TryDequeue(out var message))
            {
                if (message.Delivery is not null)
                {
                    _counters.DeliveryAbandoned();
                }

                message.Release();
            }
        }

        _held.Clear();
        _heldMessages = 0;
    }

    private void HoldFor(InboundMessage delivery, HoldCause cause)
    {
        if (!_held.TryGetValue(delivery.DeviceId, out var held))
        {
            held = new HeldDevice(_time.GetUtcNow());
            _held.Add(delivery.DeviceId, held);
        }

        held.Cause = cause;
        Hold(held, delivery);
        _counters.DeliveryHeld();
    }

    /// <summary>
    /// <see cref="Stage"/>, but a payload that makes the service itself fail (a decoder bug the fuzzer has not
    /// found yet) is rejected as malformed and logged, not allowed to end the partition: one device's bytes must
    /// never stop every other device's ingest.
    /// </summary>
    private bool StageGuarded(in InboundMessage message, long nowMs)
    {
        try
        {
            return Stage(message, nowMs);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Staging changes the device's batch only once a message is fully read, so its other messages of the
            // round stand; this one is dropped (acknowledged) like any payload that can never be read.
            LogStageFailed(_logger, e, message.DeviceId, message.Length);
            Report(new ErrorReport(message.DeviceId, null, null, null, RejectReason.MalformedJson,
                "the service could not read this payload; it has been logged for investigation"), message.Topic == UplinkTopic.Birth ? "birth" : "message");
            return true;
        }
    }

    /// <summary>
    /// Decodes, validates and dedupes one message and adds it to its device's batch. Returns false when the
    /// message must be held instead (its readings are ahead of a service clock suspected to be slow).
    /// </summary>
    public bool Stage(in InboundMessage message, long nowMs)
    {
        if (message.Topic == UplinkTopic.Birth)
        {
            StageBirth(message, nowMs);
            return true;
        }

        var reason = message.IsTooLarge
            ? RejectReason.PayloadTooLarge
            : message.Encoding == PayloadEncoding.Cbor
                ? _cborDecoder.Decode(message.Payload, nowMs, _decoded)
                : _decoder.Decode(message.Payload, nowMs, _decoded);
        if (message.IsTooLarge)
        {
            _decoded.Reset();
            _decoded.Detail = $"{message.Length} bytes, limit {TelemetryDecoder.MaxPayloadBytes}";
        }

        // Every message spends a token, whatever it holds: a flood of broken messages costs the service an error
        // report each (and a twin write for those with a key), so it is limited like a flood of good ones.
        var device = CacheFor(message.DeviceId);
        // A message tried again spent its token the first time.
        if (!_restaging && !_clockHeld && !device.TryTakeMessage(nowMs, _uplink.RateLimitPerSecond, _uplink.RateLimitBurst))
        {
            // Not handled and not acked: the device keeps the message and resends it after its timeout.
            Report(new ErrorReport(message.DeviceId, _decoded.Boot, _decoded.Seq, null, RejectReason.RateLimited,
                FormattableString.Invariant($"more than {_uplink.RateLimitPerSecond} messages/s (burst {_uplink.RateLimitBurst}); resend later")), "message");
            return true;
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

            return true;
        }

        var key = new MessageKey(_decoded.Boot!, _decoded.Seq!.Value);
        var duplicate = device.IsHandled(key) || (_round.TryGetValue(message.DeviceId, out var staged) && staged.Contains(key));
        if (!_restaging && !_clockHeld && !duplicate)
        {
            // Every fresh message is a vote on whose clock is wrong: most of them ahead, the service's.
            _clock.Observed(nowMs, _decoded.RejectedReadings > 0 && HasReadingAhead());
        }

        if (!duplicate && _decoded.RejectedReadings > 0 && AheadOfSuspectClock(message.DeviceId, nowMs))
        {
            return false;
        }

        var builder = BuilderFor(message.DeviceId);
        builder.Restaged |= _restaging;
        if (!_restaging)
        {
            _counters.MessageHandled();
        }

        if (duplicate)
        {
            // Seen before: acknowledged again, never applied again.
            if (!_restaging)
            {
                _counters.Duplicate(1);
            }

            builder.AddHandled(key);
            return true;
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
        if (!_restaging)
        {
            _counters.ReadingsAccepted(_decoded.ReadingCount - _decoded.RejectedReadings);
        }

        return true;
    }

    /// <summary>
    /// True when the decoded message has readings refused only for being ahead of service time while the service
    /// suspects its own clock (see <see cref="ServiceClockWatch"/>): acknowledging it would make the device delete
    /// readings that were never stored.
    /// </summary>
    private bool HasReadingAhead()
    {
        foreach (var reading in _decoded.ReadingSpan)
        {
            if (reading.Reason == RejectReason.TimestampInFuture)
            {
                return true;
            }
        }

        return false;
    }

    private bool AheadOfSuspectClock(string deviceId, long nowMs)
    {
        var aheadMs = 0L;
        foreach (var reading in _decoded.ReadingSpan)
        {
            if (reading.Reason == RejectReason.TimestampInFuture)
            {
                aheadMs = Math.Max(aheadMs, reading.TimestampMs - nowMs);
            }
        }

        if (aheadMs == 0 || !_clock.Ahead(deviceId, nowMs, aheadMs))
        {
            return false;
        }

        _counters.ClockHeld();
        LogHeldForClock(_logger, deviceId, aheadMs / 1000.0);
        return true;
    }

    /// <summary>
    /// Stores the round's readings durably, then sends the batches to their grains, then acknowledges what
    /// they accepted. The store comes first: a grain that has seen a message treats its redelivery as a
    /// duplicate, so the readings must be safe before it sees them. Storing twice is harmless (a point
    /// written again is the same point).
    /// </summary>
    /// <param name="failed">Devices whose deliveries must be held (their twin could not be read), besides
    /// those this round already failed.</param>
    /// <param name="cancellationToken">Stops the round.</param>
    public async Task FlushAsync(HashSet<string>? failed, CancellationToken cancellationToken)
    {
        foreach (var deviceId in failed ?? [])
        {
            _failures.TryAdd(deviceId, HoldCause.Twins);
        }

        if (_round.Count > 0)
        {
            var builders = new List<DeviceBatchBuilder>(_round.Values);
            _lines.Clear();
            foreach (var builder in builders)
            {
                // A birth in this round tags the round's readings; otherwise the one the grain holds.
                builder.WriteLines(_lines, builder.Birth ?? CacheFor(builder.DeviceId).Birth);
            }

            if (_lines.LineCount > 0 && !await StoreRoundAsync(cancellationToken))
            {
                // Nothing of this round is acknowledged: every device in it is held and tried again.
                foreach (var builder in builders)
                {
                    _failures[builder.DeviceId] = HoldCause.Store;
                }

                builders.Clear();
            }

            var calls = new Task<(TelemetryBatch Batch, IngestResult? Result, bool FirstAttempt)>[builders.Count];
            for (var i = 0; i < builders.Count; i++)
            {
                // Tagged as stored: a twin that holds another birth (applied by another instance of a cluster) answers
                // with its profile, and the next rounds are tagged as it says.
                var cache = CacheFor(builders[i].DeviceId);
                calls[i] = CallGrainAsync(builders[i].DeviceId, builders[i].Build(!cache.Learned, builders[i].Birth ?? cache.Birth), cancellationToken);
            }

            await Task.WhenAll(calls);
            for (var i = 0; i < builders.Count; i++)
            {
                var (batch, result, firstAttempt) = await calls[i];
                var deviceId = builders[i].DeviceId;
                if (result is null)
                {
                    _failures.TryAdd(deviceId, HoldCause.Twins);
                }
                else
                {
                    var cache = CacheFor(deviceId);
                    if (result.Profile is { } profile)
                    {
                        Remember(deviceId, profile);
                    }

                    // Redeliveries the cache could not tell (beyond a gap, of an older boot, after a restart) the grain
                    // found. Not after a retry: the grain may have applied the batch on the attempt that failed.
                    if (result.UnseenDuplicates > 0 && firstAttempt && !builders[i].Restaged)
                    {
                        _counters.Duplicate(result.UnseenDuplicates);
                    }

                    // Only now does the grain hold the birth: a birth of a failed round must not be skipped as
                    // "unchanged" when it comes again.
                    cache.Birth = batch.Birth ?? cache.Birth;

                    foreach (var ack in result.Acks)
                    {
                        cache.Acked(ack);
                        _replies.Ack(deviceId, ack, result.MissingFor(ack.Boot));
                    }

                    foreach (var message in batch.Messages)
                    {
                        // A message the grain refused (too many gaps) is not handled: its resend must reach the grain.
                        if (result.Refused is null || Array.IndexOf(result.Refused, message.Key) < 0)
                        {
                            cache.Handled(message.Key);
                        }
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
            if (_failures.TryGetValue(delivery.DeviceId, out var cause))
            {
                // Unacknowledged, in its place: tried again after a backoff, until it succeeds.
                HoldFor(delivery, cause);
                continue;
            }

            // The round's PUBACKs go out together: awaiting each one's write before the next cost a round trip
            // through the socket per message.
            var acknowledging = AcknowledgeAsync(delivery, cancellationToken);
            if (!acknowledging.IsCompletedSuccessfully)
            {
                _acknowledging.Add(acknowledging);
            }

            delivery.Release();
        }

        if (_acknowledging.Count > 0)
        {
            try
            {
                await Task.WhenAll(_acknowledging);
            }
            finally
            {
                _acknowledging.Clear();
            }
        }

        _deliveries.Clear();
        _failures.Clear();
    }

    /// <summary>
    /// Asks the grains of this round's devices that are new to the partition for their profile: the birth that tags
    /// stored readings and the metric names they have sent. Devices whose grain did not answer are held. A device
    /// that only sent its birth this round needs neither before staging: its batch asks for the profile instead
    /// (one grain call for a fleet coming back, not two).
    /// </summary>
    private async Task LearnDevicesAsync(CancellationToken cancellationToken)
    {
        Dictionary<string, Task<IngestProfile>>? calls = null;
        foreach (var delivery in _deliveries)
        {
            if (delivery.Topic != UplinkTopic.Birth && !CacheFor(delivery.DeviceId).Learned && (calls is null || !calls.ContainsKey(delivery.DeviceId)))
            {
                (calls ??= new(StringComparer.Ordinal))[delivery.DeviceId] = _twins.GetIngestProfileAsync(delivery.DeviceId);
            }
        }

        foreach (var (deviceId, call) in calls ?? [])
        {
            try
            {
                var profile = await call.WaitAsync(cancellationToken);
                Remember(deviceId, profile);
                if (profile.Birth is null && WaitsForBirth(deviceId))
                {
                    // Asked again at the retry.
                    CacheFor(deviceId).Learned = false;
                    _failures[deviceId] = HoldCause.Birth;
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // Left unknown: the device's messages are held rather than stored untagged.
                LogGrainCallFailed(_logger, e, deviceId, 1);
                _failures[deviceId] = HoldCause.Twins;
            }
        }
    }

    /// <summary>
    /// Whether a device whose twin has no birth should be held for one: only with a shared subscription (another
    /// instance may be applying the birth the device sent just before), only within <see cref="PipelineOptions.BirthWait"/>
    /// of finding it birthless, and not when its birth is in this round (it tags the round's readings).
    /// </summary>
    private bool WaitsForBirth(string deviceId)
    {
        if (!_options.SharedSubscription || _options.BirthWait <= TimeSpan.Zero)
        {
            return false;
        }

        foreach (var delivery in _deliveries)
        {
            if (delivery.Topic == UplinkTopic.Birth && delivery.DeviceId == deviceId)
            {
                return false;
            }
        }

        var cache = CacheFor(deviceId);
        if (cache.BirthlessSince == 0)
        {
            cache.BirthlessSince = _time.GetTimestamp();
        }

        return _time.GetElapsedTime(cache.BirthlessSince) < _options.BirthWait;
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

            if (device.CustomMetricCount + added > limit)
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

        // Charged once per birth: not again when a held round is staged anew (a twin store that is down for a minute
        // must not use up a device's budget with retries). A device new to the pipeline is charged too, though its
        // birth is most likely the one its twin holds: a flood in its first round must not be free.
        if (!_restaging && !cache.TryTakeBirth(nowMs, _uplink.BirthRateLimitPerHour, _uplink.BirthRateLimitBurst))
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

    private async Task<bool> StoreRoundAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var stored = await _store.StoreAsync(_lines.Written, _lines.LineCount, cancellationToken);
        _counters.StoreWriteTook(_time.GetElapsedTime(started), stored);
        return stored;
    }

    private async Task<(TelemetryBatch, IngestResult?, bool FirstAttempt)> CallGrainAsync(string deviceId, TelemetryBatch batch, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var started = _time.GetTimestamp();
            try
            {
                var result = await _twins.IngestAsync(deviceId, batch);
                _counters.GrainCallTook(_time.GetElapsedTime(started), succeeded: true);
                return (batch, result, attempt == 1);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                _counters.GrainCallTook(_time.GetElapsedTime(started), succeeded: false);
                LogGrainCallFailed(_logger, e, deviceId, attempt);
                if (attempt >= _options.GrainAttempts)
                {
                    // The deliveries are held, unacknowledged, and the round tried again after a backoff.
                    // Nothing is lost; the dedupe makes the repeat harmless.
                    _counters.GrainFailed();
                    return (batch, null, false);
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

        if (_connection is not null && delivery.Connection != _connection.Current)
        {
            // Its connection is gone: the broker redelivers it on the new one and the dedupe absorbs it.
            _counters.DeliveryAbandoned();
            return;
        }

        try
        {
            await delivery.Delivery.AcknowledgeAsync(cancellationToken);
            _counters.DeliveryAcknowledged();
            if (delivery.ReceivedAt != 0)
            {
                _counters.AckTook(_time.GetElapsedTime(delivery.ReceivedAt));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _counters.DeliveryAbandoned();
            throw;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            _counters.DeliveryAbandoned();
            // The broker never learns that this one is done, and it holds a place in the broker's in-flight window
            // until the connection closes: reconnect, so that it is redelivered and the dedupe absorbs it.
            LogBrokerAckFailed(_logger, e, delivery.DeviceId);
            if (_connection is not null && delivery.Connection == _connection.Current)
            {
                // Only for the connection in use: one already being replaced needs no second reconnect.
                _connection.RequestReconnect();
            }
        }
    }

    private void Report(in ErrorReport report, string level)
    {
        if (_restaging)
        {
            // The device was told the first time this message was staged.
            return;
        }

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Held a message of {DeviceId} with readings {AheadSeconds} s ahead of a service clock suspected to be slow")]
    private static partial void LogHeldForClock(ILogger logger, string deviceId, double aheadSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker acknowledgement for a message of {DeviceId} failed; reconnecting so the broker redelivers it")]
    private static partial void LogBrokerAckFailed(ILogger logger, Exception exception, string deviceId);
}
