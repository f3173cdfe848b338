using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Telemetry.Grains.Devices;

namespace Telemetry.Grains.Alerts;

/// <summary>One alert event as a device grain hands it over: the event and the alert index's entry after it.</summary>
internal readonly record struct AlertHandover(AlertEvent Event, AlertSummary Summary, long Number);

/// <summary>
/// Delivers alert events outside the device grain's turn. A device grain stores each event in its outbox with the
/// state change it describes (one write), hands it here, and goes on with its next round; this delivers it to the
/// alert index and then to the sink (MQTT, the SSE feed, InfluxDB, the webhook queue), and, once the index has stored
/// them (<see cref="ConfirmLoopAsync"/>), tells the grain which events got through so it can drop them from its
/// outbox. A round therefore never waits for a broker or a webhook queue, and a sink that is down holds nobody's acks.
/// <para>
/// A device's events go through one lane (by a hash of its id), in order; a lane delivers one event at a time. A
/// device whose delivery fails is set aside with its later events and tried again with the device grain's backoff
/// (0.5 s doubling to 5 min) while the lane serves the other devices, until it gets through or the silo stops.
/// Events are not lost when the silo stops or dies: they are still in the grain's stored outbox, and the grain
/// hands them over again when it next activates (the pending-outbox grain wakes it at start-up). Delivery is at least
/// once, each event with its stable <see cref="AlertEvent.EventId"/>; a lane remembers how far it got per device (by
/// event number, within the twin's outbox incarnation, which changes only if the twin's stored state is lost), so an
/// event handed over twice (a grain that was reactivated while its events waited here) is confirmed, not sent again.
/// </para>
/// <para>
/// A twin that is shed or moves while its events wait here hands them over again from its new activation, perhaps on
/// another silo, whose lane may deliver them and newer ones first. So before delivering each event, a lane asks the
/// device grain whether the activation that handed it over is still its current one, and drops what is left of the
/// handover if not. (The two silos can still overlap by the one delivery in flight when the twin moves; the alert
/// index keeps the newest state whatever order it hears them in, and consumers order a device's events by the number
/// in their ids.) Each call to a grain, the index or the sink is bounded by
/// <see cref="DeliveryTimeout"/>, and nothing that fails ends a lane.
/// </para>
/// </summary>
internal sealed partial class AlertFanOut : IDisposable
{
    internal const int LaneCount = 8;

    /// <summary>Devices a lane remembers the last delivered event of; past this it forgets them all (at worst, an event
    /// handed over twice is then delivered twice, with the same id).</summary>
    private const int RememberedDevices = 50_000;

    /// <summary>How long one delivery attempt may take before it is counted as failed and tried again.</summary>
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The shortest time between two confirmation rounds, each of which writes the index.</summary>
    private static readonly TimeSpan ConfirmSpacing = TimeSpan.FromSeconds(1);

    /// <summary>Tries at asking or telling a device grain about its handovers (<see cref="ConfirmAsync"/>).</summary>
    private const int ConfirmAttempts = 4;

    private readonly IGrainFactory _grains;
    private readonly IAlertSink _sink;
    private readonly TimeProvider _time;
    private readonly ILogger<AlertFanOut> _logger;
    private readonly Channel<Handed>[] _lanes;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _workers;
    private readonly Task _confirmer;

    /// <summary>Per device: delivered events the twin has not been told about yet, and their summaries in the index.</summary>
    private Dictionary<string, Unconfirmed> _unconfirmed = new(StringComparer.Ordinal);
    private readonly Lock _unconfirmedLock = new();
    private readonly Channel<bool> _confirmWake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private long _resent;
    private long _pending;
    private long _delivered;
    private long _superseded;
    private long _awaitingConfirmation;

    public AlertFanOut(IGrainFactory grains, IAlertSink sink, TimeProvider time, ILogger<AlertFanOut> logger)
    {
        _grains = grains;
        _sink = sink;
        _time = time;
        _logger = logger;
        _lanes = new Channel<Handed>[LaneCount];
        _workers = new Task[LaneCount];
        for (var i = 0; i < LaneCount; i++)
        {
            var lane = _lanes[i] = Channel.CreateUnbounded<Handed>(new UnboundedChannelOptions { SingleReader = true });
            _workers[i] = Task.Run(() => RunAsync(lane.Reader));
        }

        _confirmer = Task.Run(ConfirmLoopAsync);
    }

    /// <summary>Events handed over and not yet delivered (or skipped as delivered before).</summary>
    public long Pending => Interlocked.Read(ref _pending);

    /// <summary>Events delivered since start.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Alert summaries given to the index again because the activation that took them died before it wrote.</summary>
    public long Resent => Interlocked.Read(ref _resent);

    /// <summary>Events dropped because the twin handed them over again from a newer activation.</summary>
    public long Superseded => Interlocked.Read(ref _superseded);

    /// <summary>Devices whose twin has not yet been told that its delivered events got through (it keeps them in its
    /// outbox meanwhile).</summary>
    public long AwaitingConfirmation => Interlocked.Read(ref _awaitingConfirmation);

    /// <summary>The number that orders a device's events: the part of the event id after its last colon.</summary>
    public static long NumberOf(AlertEvent alert)
    {
        var id = alert.EventId;
        var colon = id.LastIndexOf(':');
        return colon >= 0 && long.TryParse(id.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : 0;
    }

    /// <summary>One device activation's events, as handed over, and how far the lane got with them.</summary>
    private sealed class Handed(string device, Guid handover, Guid incarnation, AlertHandover[] events)
    {
        public string Device { get; } = device;

        public Guid Handover { get; } = handover;

        /// <summary>The twin's outbox incarnation: event numbers are compared only within one.</summary>
        public Guid Incarnation { get; } = incarnation;

        public AlertHandover[] Events { get; } = events;

        /// <summary>The events before this one have been delivered, skipped as delivered before, or dropped.</summary>
        public int Next;
    }

    /// <summary>A device whose delivery failed: its handovers wait here, in order, until <see cref="Due"/>, while the
    /// lane goes on with other devices.</summary>
    private sealed class Parked
    {
        public readonly Queue<Handed> Waiting = new();
        public int Failures;
        public DateTimeOffset Due;
    }

    /// <summary>
    /// Queues a device's events, oldest first, for delivery. Never blocks. <paramref name="handover"/> names the
    /// activation that hands them over: by the time their lane reaches them, the lane asks the device grain whether that
    /// activation is still its current one. False when the fan-out is stopping and took nothing (the events stay in
    /// the grain's stored outbox and are handed over at its next activation).
    /// </summary>
    public bool Hand(string device, Guid handover, Guid incarnation, AlertHandover[] events)
    {
        if (events.Length == 0)
        {
            return true;
        }

        Interlocked.Add(ref _pending, events.Length);
        if (!_lanes[(int)((uint)StringComparer.Ordinal.GetHashCode(device) % LaneCount)].Writer.TryWrite(new Handed(device, handover, incarnation, events)))
        {
            Interlocked.Add(ref _pending, -events.Length);
            return false;
        }

        return true;
    }

    /// <summary>
    /// One lane: delivers handovers in the order they came, one device's strictly in order. A device whose delivery
    /// fails is parked with everything it hands over after that, and tried again with backoff, while the lane goes on
    /// with the other devices: one device's failure (a topic the broker refuses, a value the store rejects) holds up
    /// only that device. A failure of something every device needs (the broker, the index) parks them all, each
    /// retried on its own backoff.
    /// </summary>
    private async Task RunAsync(ChannelReader<Handed> lane)
    {
        var delivered = new Dictionary<string, DeliveredUpTo>(StringComparer.Ordinal);
        var parked = new Dictionary<string, Parked>(StringComparer.Ordinal);
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                var now = _time.GetUtcNow();
                foreach (var (device, wait) in parked.Where(p => p.Value.Due <= now).OrderBy(p => p.Value.Due).ToList())
                {
                    await RetryAsync(device, wait, parked, delivered);
                }

                if (lane.TryRead(out var handed))
                {
                    if (parked.TryGetValue(handed.Device, out var waiting))
                    {
                        waiting.Waiting.Enqueue(handed);
                    }
                    else if (!await ProcessAsync(handed, delivered, failures: 1))
                    {
                        var wait = new Parked { Failures = 1, Due = _time.GetUtcNow() + DeviceGrain.RetryDelay(1) };
                        wait.Waiting.Enqueue(handed);
                        parked[handed.Device] = wait;
                    }

                    continue;
                }

                // Nothing to read: wait for the next handover, or the next parked device's retry.
                var readable = lane.WaitToReadAsync(_stopping.Token).AsTask();
                if (parked.Count > 0)
                {
                    var delay = parked.Values.Min(p => p.Due) - _time.GetUtcNow();
                    if (delay > TimeSpan.Zero)
                    {
                        await Task.WhenAny(readable, Task.Delay(delay, _time, _stopping.Token));
                    }
                }
                else
                {
                    await readable;
                }

                if (readable.IsCompletedSuccessfully && !readable.Result && parked.Count == 0)
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Not expected (deliveries catch their own failures); nothing may end a lane while the silo runs.
                LogLaneFailed(_logger, e);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, CancellationToken.None);
            }
        }
    }

    /// <summary>Tries a parked device's handovers again, in order; parks it again, with a longer backoff, at the first
    /// that fails.</summary>
    private async Task RetryAsync(string device, Parked wait, Dictionary<string, Parked> parked, Dictionary<string, DeliveredUpTo> delivered)
    {
        while (wait.Waiting.TryPeek(out var handed))
        {
            if (!await ProcessAsync(handed, delivered, wait.Failures + 1))
            {
                wait.Failures++;
                wait.Due = _time.GetUtcNow() + DeviceGrain.RetryDelay(wait.Failures);
                return;
            }

            wait.Waiting.Dequeue();
        }

        parked.Remove(device);
    }

    /// <summary>
    /// Delivers what is left of one handover, once each event. True when nothing is left of it; false when a delivery
    /// failed, with <see cref="Handed.Next"/> at the event to try again. What got through before the failure is
    /// queued for confirmation either way. <paramref name="failures"/>: the device's failures if this attempt fails.
    /// </summary>
    private async Task<bool> ProcessAsync(Handed handed, Dictionary<string, DeliveredUpTo> delivered, int failures)
    {
        var last = delivered.TryGetValue(handed.Device, out var before) && before.Incarnation == handed.Incarnation ? before.Last : 0;
        var indexed = new List<(AlertSummary, Guid)>();
        try
        {
            for (; handed.Next < handed.Events.Length; handed.Next++)
            {
                var handover = handed.Events[handed.Next];
                if (handover.Number > last)
                {
                    // Asked before each event: the twin may have moved while the one before it was delivered.
                    if (!await _grains.GetGrain<IDeviceGrain>(handed.Device).OwnsHandoverAsync(handed.Handover).WaitAsync(DeliveryTimeout, _stopping.Token))
                    {
                        // The twin was activated again since (perhaps on another silo, after being shed or moved) and
                        // handed these same stored events over from there. Delivering this copy now could put an older
                        // event after newer ones the other activation already delivered.
                        var left = handed.Events.Length - handed.Next;
                        handed.Next = handed.Events.Length;
                        Interlocked.Add(ref _pending, -left);
                        Interlocked.Add(ref _superseded, left);
                        return true;
                    }

                    indexed.Add((handover.Summary, await DeliverAsync(handover)));
                    last = handover.Number;
                    Interlocked.Increment(ref _delivered);
                }

                Interlocked.Decrement(ref _pending);
            }

            return true;
        }
        catch (Exception e) when (!_stopping.IsCancellationRequested)
        {
            var failing = handed.Events[Math.Min(handed.Next, handed.Events.Length - 1)].Event;
            LogDeliveryFailed(_logger, e, failing.EventId, handed.Device, DeviceGrain.RetryDelay(failures).TotalSeconds);
            return false;
        }
        finally
        {
            if (delivered.Count >= RememberedDevices && !delivered.ContainsKey(handed.Device))
            {
                delivered.Clear();
            }

            delivered[handed.Device] = new DeliveredUpTo(handed.Incarnation, last);
            if (indexed.Count > 0 || handed.Next == handed.Events.Length)
            {
                ToConfirm(handed.Device, handed.Incarnation, last, indexed);
            }
        }
    }

    /// <summary>How far a lane got with a device: its events up to <see cref="Last"/> of outbox
    /// <see cref="Incarnation"/>.</summary>
    private readonly record struct DeliveredUpTo(Guid Incarnation, long Last);

    /// <summary>The index first, so that whoever hears the event can already find the alert over HTTP; then the sink,
    /// which completes only once every destination has it. Each bounded by <see cref="DeliveryTimeout"/>. Returns the
    /// index activation that took the summary.</summary>
    private async Task<Guid> DeliverAsync(AlertHandover handover)
    {
        var index = await _grains.GetGrain<IAlertIndexGrain>(0).UpsertAsync(handover.Summary).WaitAsync(DeliveryTimeout, _stopping.Token);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(DeliveryTimeout);
        // Bounded even for a sink that ignores its cancellation token.
        await _sink.PublishAsync(handover.Event, timeout.Token).AsTask().WaitAsync(DeliveryTimeout, _stopping.Token);
        return index;
    }

    /// <summary>What a twin is yet to be told: its events up to <see cref="UpTo"/> were delivered, and the index
    /// activation <see cref="Index"/> took their summaries (<see cref="Guid.Empty"/>: more than one did).</summary>
    private sealed class Unconfirmed
    {
        public Guid Incarnation;
        public long UpTo;
        public Guid Index;
        public readonly Dictionary<string, AlertSummary> Summaries = new(StringComparer.Ordinal);
    }

    private void ToConfirm(string device, Guid incarnation, long upTo, List<(AlertSummary Summary, Guid Index)> indexed)
    {
        lock (_unconfirmedLock)
        {
            if (!_unconfirmed.TryGetValue(device, out var entry))
            {
                _unconfirmed[device] = entry = new Unconfirmed { Incarnation = incarnation };
                Interlocked.Increment(ref _awaitingConfirmation);
            }

            if (entry.Incarnation != incarnation)
            {
                // The twin lost its stored state and numbers anew: what the old numbers confirmed is gone with it.
                entry.Incarnation = incarnation;
                entry.UpTo = 0;
            }

            entry.UpTo = Math.Max(entry.UpTo, upTo);
            foreach (var (summary, index) in indexed)
            {
                if (entry.Summaries.Count == 0 && entry.Index == Guid.Empty)
                {
                    entry.Index = index;
                }
                else if (entry.Index != index)
                {
                    entry.Index = Guid.Empty;
                }

                if (!entry.Summaries.TryGetValue(summary.Id, out var held) || !AlertIndexGrain.IsOlder(summary, held))
                {
                    entry.Summaries[summary.Id] = summary;
                }
            }
        }

        _confirmWake.Writer.TryWrite(true);
    }

    /// <summary>
    /// Tells twins which of their events got through, but only once the index has stored them: the index is written
    /// behind, and a twin that drops an event from its outbox could otherwise leave an alert (and its SLA deadline)
    /// known to nobody if the index's silo died within the second. So each round flushes the index first; if the index
    /// activation that took a summary is not the one that flushed (its silo died before it wrote), the summary is
    /// given to the index again. Rounds follow each other at most once per <see cref="ConfirmSpacing"/>, and take every
    /// device that had deliveries meanwhile, so the index is written at most that often whatever the alert rate.
    /// </summary>
    private async Task ConfirmLoopAsync()
    {
        try
        {
            while (true)
            {
                await _confirmWake.Reader.ReadAsync(_stopping.Token);
                Dictionary<string, Unconfirmed> batch;
                lock (_unconfirmedLock)
                {
                    batch = _unconfirmed;
                    _unconfirmed = new Dictionary<string, Unconfirmed>(StringComparer.Ordinal);
                }

                if (batch.Count > 0)
                {
                    await MakeDurableAsync(batch.Values);
                    await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = _stopping.Token },
                        async (entry, _) =>
                        {
                            await ConfirmAsync(entry.Key, entry.Value.Incarnation, entry.Value.UpTo);
                            Interlocked.Decrement(ref _awaitingConfirmation);
                        });
                }

                await Task.Delay(ConfirmSpacing, _time, _stopping.Token);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // Not expected (every call is caught below); without confirmations twins keep their events, and deliver
            // them again (same ids) when they next activate.
            LogConfirmerFailed(_logger, e);
        }
    }

    /// <summary>Flushes the index until the activation that flushed holds every summary of <paramref name="entries"/>.</summary>
    private async Task MakeDurableAsync(IReadOnlyCollection<Unconfirmed> entries)
    {
        var index = _grains.GetGrain<IAlertIndexGrain>(0);
        for (var failures = 1; ; failures++)
        {
            try
            {
                var current = await index.FlushAsync().WaitAsync(DeliveryTimeout, _stopping.Token);
                var lost = entries.Where(e => e.Summaries.Count > 0 && e.Index != current).ToList();
                if (lost.Count == 0)
                {
                    return;
                }

                foreach (var entry in lost)
                {
                    var took = new HashSet<Guid>();
                    foreach (var summary in entry.Summaries.Values)
                    {
                        took.Add(await index.UpsertAsync(summary).WaitAsync(DeliveryTimeout, _stopping.Token));
                        Interlocked.Increment(ref _resent);
                    }

                    entry.Index = took.Count == 1 ? took.First() : Guid.Empty;
                }
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested)
            {
                var delay = DeviceGrain.RetryDelay(failures);
                LogFlushFailed(_logger, e, delay.TotalSeconds);
                await Task.Delay(delay, _time, _stopping.Token);
            }
        }
    }

    /// <summary>Tells the device grain its events up to <paramref name="number"/> got through, so it drops them from its
    /// outbox. Tried <see cref="ConfirmAttempts"/> times; then put back for a later round (which the next delivery for
    /// the device may overtake: its confirmation covers everything up to its number). Until it gets through, the twin
    /// keeps the events, and at worst delivers them again, with the same ids, when it next activates.</summary>
    private async Task ConfirmAsync(string device, Guid incarnation, long number)
    {
        for (var failures = 1; failures <= ConfirmAttempts; failures++)
        {
            try
            {
                await _grains.GetGrain<IDeviceGrain>(device).ConfirmDeliveredAsync(incarnation, number).WaitAsync(DeliveryTimeout, _stopping.Token);
                return;
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested)
            {
                if (failures == ConfirmAttempts)
                {
                    LogConfirmGaveUp(_logger, e, device, failures);
                    ToConfirm(device, incarnation, number, []);
                    return;
                }

                var delay = DeviceGrain.RetryDelay(failures);
                LogConfirmFailed(_logger, e, device, delay.TotalSeconds);
                await Task.Delay(delay, _time, _stopping.Token);
            }
        }
    }

    public void Dispose()
    {
        foreach (var lane in _lanes)
        {
            lane.Writer.TryComplete();
        }

        // Not disposed: a lane may still be reading its token as it ends.
        _stopping.Cancel();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivering alert event {EventId} of {Device} failed; trying the device again in {DelaySeconds} s, other devices meanwhile (it stays in the twin's outbox until delivered)")]
    private static partial void LogDeliveryFailed(ILogger logger, Exception exception, string eventId, string device, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storing the alert index before confirming deliveries failed; trying again in {DelaySeconds} s (twins keep the events meanwhile)")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Alert fan-out: confirming deliveries stopped; twins keep their delivered events and deliver them again when they next activate")]
    private static partial void LogConfirmerFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Alert fan-out: a lane failed unexpectedly and goes on in a second; what it had not delivered stays in the twins' outboxes")]
    private static partial void LogLaneFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telling {Device} its alert events were delivered failed {Attempts} times; trying again in a later round (its twin keeps them meanwhile)")]
    private static partial void LogConfirmGaveUp(ILogger logger, Exception exception, string device, int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telling {Device} its alert events were delivered failed; trying again in {DelaySeconds} s")]
    private static partial void LogConfirmFailed(ILogger logger, Exception exception, string device, double delaySeconds);
}
