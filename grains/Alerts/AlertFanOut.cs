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
/// alert index and then to the sink (MQTT, the SSE feed, InfluxDB, the webhook queue), and tells the grain which events
/// got through so it can drop them from its outbox. A round therefore never waits for a broker or a webhook queue,
/// and a sink that is down holds nobody's acks.
/// <para>
/// A device's events go through one lane (by a hash of its id), in order; a lane delivers one event at a time and
/// retries a failed one, with the device grain's backoff (0.5 s doubling to 5 min), until it gets through or the silo
/// stops. Events are not lost when the silo stops or dies: they are still in the grain's stored outbox, and the grain
/// hands them over again when it next activates (the pending-outbox grain wakes it at start-up). Delivery is at least
/// once, each event with its stable <see cref="AlertEvent.EventId"/>; a lane remembers how far it got per device, so
/// an event handed over twice (a grain that was reactivated while its events waited here) is confirmed, not sent again.
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

    private readonly IGrainFactory _grains;
    private readonly IAlertSink _sink;
    private readonly TimeProvider _time;
    private readonly ILogger<AlertFanOut> _logger;
    private readonly Channel<(string Device, AlertHandover[] Events)>[] _lanes;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _workers;
    private long _pending;
    private long _delivered;

    public AlertFanOut(IGrainFactory grains, IAlertSink sink, TimeProvider time, ILogger<AlertFanOut> logger)
    {
        _grains = grains;
        _sink = sink;
        _time = time;
        _logger = logger;
        _lanes = new Channel<(string, AlertHandover[])>[LaneCount];
        _workers = new Task[LaneCount];
        for (var i = 0; i < LaneCount; i++)
        {
            var lane = _lanes[i] = Channel.CreateUnbounded<(string, AlertHandover[])>(new UnboundedChannelOptions { SingleReader = true });
            _workers[i] = Task.Run(() => RunAsync(lane.Reader));
        }
    }

    /// <summary>Events handed over and not yet delivered (or skipped as delivered before).</summary>
    public long Pending => Interlocked.Read(ref _pending);

    /// <summary>Events delivered since start.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>The number that orders a device's events: the part of the event id after its last colon.</summary>
    public static long NumberOf(AlertEvent alert)
    {
        var id = alert.EventId;
        var colon = id.LastIndexOf(':');
        return colon >= 0 && long.TryParse(id.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : 0;
    }

    /// <summary>Queues a device's events, oldest first, for delivery. Never blocks.</summary>
    public void Hand(string device, AlertHandover[] events)
    {
        if (events.Length == 0)
        {
            return;
        }

        Interlocked.Add(ref _pending, events.Length);
        if (!_lanes[(int)((uint)StringComparer.Ordinal.GetHashCode(device) % LaneCount)].Writer.TryWrite((device, events)))
        {
            // Only after Dispose: the events stay in the grain's stored outbox and are handed over at its next activation.
            Interlocked.Add(ref _pending, -events.Length);
        }
    }

    private async Task RunAsync(ChannelReader<(string Device, AlertHandover[] Events)> lane)
    {
        var delivered = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            await foreach (var (device, events) in lane.ReadAllAsync(_stopping.Token))
            {
                var last = delivered.GetValueOrDefault(device);
                foreach (var handover in events)
                {
                    if (handover.Number > last)
                    {
                        await DeliverAsync(handover);
                        last = handover.Number;
                        Interlocked.Increment(ref _delivered);
                    }

                    Interlocked.Decrement(ref _pending);
                }

                if (delivered.Count >= RememberedDevices && !delivered.ContainsKey(device))
                {
                    delivered.Clear();
                }

                delivered[device] = last;
                await ConfirmAsync(device, last);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>The index first, so that whoever hears the event can already find the alert over HTTP; then the sink,
    /// which completes only once every destination has it. Tried until it succeeds or the silo stops.</summary>
    private async Task DeliverAsync(AlertHandover handover)
    {
        for (var failures = 1; ; failures++)
        {
            try
            {
                await _grains.GetGrain<IAlertIndexGrain>(0).UpsertAsync(handover.Summary);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                timeout.CancelAfter(DeliveryTimeout);
                await _sink.PublishAsync(handover.Event, timeout.Token);
                return;
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested)
            {
                var delay = DeviceGrain.RetryDelay(failures);
                LogDeliveryFailed(_logger, e, handover.Event.EventId, handover.Event.Device, delay.TotalSeconds);
                await Task.Delay(delay, _time, _stopping.Token);
            }
        }
    }

    /// <summary>Tells the device grain its events up to <paramref name="number"/> got through, so it drops them from its
    /// outbox. Tried until it succeeds or the silo stops: until then the grain keeps them, and would deliver them again
    /// after a restart.</summary>
    private async Task ConfirmAsync(string device, long number)
    {
        for (var failures = 1; ; failures++)
        {
            try
            {
                await _grains.GetGrain<IDeviceGrain>(device).ConfirmDeliveredAsync(number);
                return;
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested)
            {
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivering alert event {EventId} of {Device} failed; trying again in {DelaySeconds} s (it stays in the twin's outbox until delivered)")]
    private static partial void LogDeliveryFailed(ILogger logger, Exception exception, string eventId, string device, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telling {Device} its alert events were delivered failed; trying again in {DelaySeconds} s")]
    private static partial void LogConfirmFailed(ILogger logger, Exception exception, string device, double delaySeconds);
}
