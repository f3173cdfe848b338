using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Grains.Quality;
using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// Everything the service publishes, on its own connection so that a stalled consumer never blocks a reply.
/// Acks coalesce: only the newest ack per (device, boot) waits. Waiting acks are published as soon as there are any,
/// many at a time (each still waits for its PUBACK); acks that come due meanwhile wait for the next publication, at
/// least <see cref="UplinkOptions.AckInterval"/> later. So an idle service acks at once and a busy one sends one ack
/// per device per publication. Alert and quality events are not queued here: the grains hold them
/// in their own durable outboxes and call <see cref="PublishAcknowledgedAsync"/>, which completes only when the
/// broker has acknowledged the message. Error reports are advisory: when their queue is full they are dropped
/// and counted.
/// </summary>
internal sealed partial class MqttOutbox(
    MqttClientOptionsFactory clientOptions,
    IOptions<BrokerOptions> brokerOptions,
    IOptions<UplinkOptions> uplinkOptions,
    IGrainFactory grains,
    ComponentHealth health,
    TimeProvider time,
    ILogger<MqttOutbox> logger) : BackgroundService, IDeviceReplies
{
    private const int QueueCapacity = 10_000;

    /// <summary>Ack publishes awaiting their PUBACK at once, at most: enough to keep the connection busy. A broker
    /// that announces a lower Receive Maximum in its CONNACK gets no more than that.</summary>
    private const int AcksInFlight = 256;

    /// <summary>The health component of this publisher.</summary>
    public const string Component = "outbox";

    private readonly ConcurrentDictionary<(string Device, string Boot), (MessageKey Ack, SeqRange[] Missing)> _acks = new();
    private readonly Channel<OutboundMessage> _errors = Channel.CreateBounded<OutboundMessage>(
        new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private int _brokerReceiveMaximum = AcksInFlight;

    /// <summary>Wakes the ack publisher: at most one signal waits, however many acks came due.</summary>
    private readonly Channel<bool> _acksDue = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public bool IsConnected => _client.IsConnected;

    public void Ack(string deviceId, MessageKey ack) => Ack(deviceId, ack, []);

    // The same seq may come with fewer gaps (a resend filled one above the ack): the newer report wins then too.
    public void Ack(string deviceId, MessageKey ack, SeqRange[] missing)
    {
        _acks.AddOrUpdate((deviceId, ack.Boot), (ack, missing), (_, existing) => ack.Seq >= existing.Ack.Seq ? (ack, missing) : existing);
        _acksDue.Writer.TryWrite(true);
    }

    public bool Error(in ErrorReport report)
    {
        var message = new OutboundMessage(DeviceTopics.Errors(report.DeviceId), ReplyJson.Error(report));
        // DropWrite reports success even when it drops, so check the room first (single writer per item is
        // not guaranteed, so this can undercount drops by a few under contention; it never blocks).
        if (_errors.Reader.Count >= QueueCapacity)
        {
            return false;
        }

        return _errors.Writer.TryWrite(message);
    }

    /// <summary>
    /// Publishes at QoS 1 and completes once the broker has acknowledged it (PUBACK; "no matching subscribers"
    /// counts: the broker has it, nobody listens now). Throws when not connected, when the broker refuses it, or
    /// after <paramref name="timeout"/>; the caller keeps the message and retries.
    /// </summary>
    public async Task PublishAcknowledgedAsync(OutboundMessage message, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!_client.IsConnected)
        {
            throw new InvalidOperationException($"The outbox publisher is not connected to {clientOptions.Broker.Host}:{clientOptions.Broker.Port}.");
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        MqttClientPublishResult result;
        try
        {
            result = await _client.PublishAsync(Build(message), limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The broker did not acknowledge {message.Topic} within {timeout}.");
        }

        if (!result.IsSuccess && result.ReasonCode != MqttClientPublishReasonCode.NoMatchingSubscribers)
        {
            throw new InvalidOperationException($"The broker refused {message.Topic}: {result.ReasonCode} {result.ReasonString}");
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        KeepConnectedAsync(stoppingToken),
        DrainAsync(_errors.Reader, stoppingToken),
        FlushAcksAsync(stoppingToken));

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }

    private async Task KeepConnectedAsync(CancellationToken stoppingToken)
    {
        var options = clientOptions.Create("outbox", persistentSession: false);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    if (!await BoundedMqtt.TryPingAsync(_client, stoppingToken))
                    {
                        if (_client.IsConnected)
                        {
                            // Not answered in time: MQTTnet still counts the client connected and would refuse CONNECT.
                            await BoundedMqtt.DisconnectAsync(_client, stoppingToken);
                        }

                        var connected = await BoundedMqtt.ConnectAsync(_client, options, stoppingToken);
                        // 0 means the broker did not say: MQTT 5 takes that as 65,535.
                        Volatile.Write(ref _brokerReceiveMaximum, connected.ReceiveMaximum is null or 0 ? AcksInFlight : Math.Min((int)connected.ReceiveMaximum.Value, AcksInFlight));
                        LogConnected(logger, clientOptions.Broker.Host, clientOptions.Broker.Port);
                        health.Clear(Component);
                        await ResumePendingAsync();
                        // Not awaited: a quality view busy delivering must not hold up this loop's pings.
                        _ = RepublishQualityAsync();
                    }

                    await Task.Delay(brokerOptions.Value.ReconnectDelay, time, stoppingToken);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    LogConnectFailed(logger, e, clientOptions.Broker.Host, clientOptions.Broker.Port);
                    health.Report(Component, HealthStatus.Degraded,
                        $"cannot reach the broker at {clientOptions.Broker.Host}:{clientOptions.Broker.Port}: acks, alerts and quality signals wait");
                    await Delay(stoppingToken);
                }
            }
        }
        catch (Exception e) when (stoppingToken.IsCancellationRequested)
        {
            // A ping or CONNECT cut off by the stop ends as MQTTnet's timeout exception, not as a cancellation: either
            // way it is the stop, not a broker out of reach, and must not end this loop (and the host) faulted.
            LogCutOffByStop(logger, e, "connection loop");
        }
    }

    private async Task DrainAsync(ChannelReader<OutboundMessage> reader, CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var message in reader.ReadAllAsync(stoppingToken))
            {
                while (!await TryPublishAsync(message, stoppingToken))
                {
                    await Delay(stoppingToken);
                }
            }
        }
        catch (Exception e) when (stoppingToken.IsCancellationRequested)
        {
            LogCutOffByStop(logger, e, "error reports");
        }
    }

    private async Task FlushAcksAsync(CancellationToken stoppingToken)
    {
        var interval = uplinkOptions.Value.AckInterval;
        // A sliding window: a new ack goes out as each PUBACK comes back. Sending a group and waiting for all of it
        // left the connection silent until the last PUBACK, and a broker with Nagle's algorithm on (Mosquitto's
        // default) holds its later PUBACKs until our ACK, which the kernel then delays: 20 acks per 27 ms, 750 a
        // second, measured with a fleet of 100,000 devices coming back.
        var inFlight = new Queue<(Task<bool> Publish, (string Device, string Boot) Key, (MessageKey Ack, SeqRange[] Missing) Value)>(AcksInFlight);
        try
        {
            while (await _acksDue.Reader.WaitToReadAsync(stoppingToken))
            {
                _acksDue.Reader.TryRead(out _);
                var failed = false;
                foreach (var key in _acks.Keys)
                {
                    if (!_acks.TryRemove(key, out var ack))
                    {
                        continue;
                    }

                    inFlight.Enqueue((TryPublishAsync(new OutboundMessage(DeviceTopics.Ack(key.Device), ReplyJson.Ack(ack.Ack, ack.Missing)), stoppingToken), key, ack));
                    if (inFlight.Count >= Volatile.Read(ref _brokerReceiveMaximum) && !await CompleteOldestAsync())
                    {
                        failed = true;
                        break;
                    }
                }

                // More acks came due meanwhile: keep the window full rather than wait for it to empty.
                if (!failed && interval == TimeSpan.Zero && _acksDue.Reader.Count > 0)
                {
                    continue;
                }

                while (inFlight.Count > 0)
                {
                    failed |= !await CompleteOldestAsync();
                }

                if (failed)
                {
                    // Not connected or refused: wait for the connection before trying what is kept.
                    await Delay(stoppingToken);
                    _acksDue.Writer.TryWrite(true);
                }
                else if (interval > TimeSpan.Zero)
                {
                    await Task.Delay(interval, time, stoppingToken);
                }
            }
        }
        catch (Exception e) when (stoppingToken.IsCancellationRequested)
        {
            // What was not acknowledged is acked by the next run, when the device resends it.
            LogCutOffByStop(logger, e, "acks");
        }

        // True when the oldest publish in flight succeeded; a failed ack is kept for the next publication unless a
        // newer one for its device and boot arrived meanwhile.
        async Task<bool> CompleteOldestAsync()
        {
            var (publish, key, value) = inFlight.Dequeue();
            if (await publish)
            {
                return true;
            }

            // A newer ack of the same device and boot is still in flight: it says more, and if it fails it is kept itself.
            if (!inFlight.Any(i => i.Key == key))
            {
                Ack(key.Device, value.Ack, value.Missing);
            }

            return false;
        }
    }

    private async Task<bool> TryPublishAsync(OutboundMessage message, CancellationToken stoppingToken)
    {
        if (!_client.IsConnected)
        {
            return false;
        }

        try
        {
            var result = await _client.PublishAsync(Build(message), stoppingToken);
            // "No matching subscribers" is success: nobody listens for this device right now.
            return result.IsSuccess || result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers;
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogPublishFailed(logger, e, message.Topic);
            return false;
        }
        catch (Exception e)
        {
            // Cut off by the stop. MQTTnet ends a publish whose token is cancelled with its own timeout exception, and
            // one whose connection goes under it with whichever exception its torn-down client throws: none of them an
            // OperationCanceledException. Thrown on, it faulted the ack loop, and the host logged a failed
            // BackgroundService and stopped with a critical line.
            LogCutOffByStop(logger, e, message.Topic);
            return false;
        }
    }

    private static MqttApplicationMessage Build(OutboundMessage message) =>
        new MqttApplicationMessageBuilder()
            .WithTopic(message.Topic)
            .WithPayload(message.Payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(message.Retain)
            .Build();

    /// <summary>
    /// Once the publisher can deliver again (start-up, or after the broker was away), wakes the twins that still
    /// hold undelivered events: after a crash nothing else would, when their devices stay silent.
    /// </summary>
    private async Task ResumePendingAsync()
    {
        try
        {
            await grains.GetGrain<IPendingOutboxGrain>(0).ResumeAsync();
        }
        catch (Exception e)
        {
            // Each twin also retries on its own timer and on its next activation; this only speeds that up.
            LogResumeFailed(logger, e);
        }
    }

    /// <summary>
    /// Once the publisher can deliver again, has every model's quality view publish again the retained status of its
    /// batches: the broker may have lost it (the embedded one keeps retained messages in memory only, so a restart of
    /// the service empties <c>quality/#</c>; Mosquitto writes them to disk only every autosave interval).
    /// </summary>
    private async Task RepublishQualityAsync()
    {
        try
        {
            var models = await grains.GetGrain<IQualityCatalogGrain>(0).GetModelsAsync();
            var queued = (await Task.WhenAll(models.Select(m => grains.GetGrain<IModelQualityGrain>(m).RepublishAsync()))).Sum();
            if (queued > 0)
            {
                LogQualityRepublished(logger, queued, models.Length);
            }
        }
        catch (Exception e)
        {
            LogRepublishFailed(logger, e);
        }
    }

    private Task Delay(CancellationToken stoppingToken) =>
        Task.Delay(brokerOptions.Value.ReconnectDelay, time, stoppingToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox publisher connected to {Host}:{Port}")]
    private static partial void LogConnected(ILogger logger, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox publisher cannot reach {Host}:{Port}; retrying")]
    private static partial void LogConnectFailed(ILogger logger, Exception exception, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Asking twins with undelivered events to deliver failed; they retry on their own")]
    private static partial void LogResumeFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Publishing the retained status of {Batches} batches of {Models} models again, for a broker that may have lost it")]
    private static partial void LogQualityRepublished(ILogger logger, int batches, int models);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Asking the quality views to publish their retained status again failed; it comes with the next status change or reconnect")]
    private static partial void LogRepublishFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The stop cut off the outbox's {Work}; left to the next run")]
    private static partial void LogCutOffByStop(ILogger logger, Exception exception, string work);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing to {Topic} failed; will retry")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string topic);
}
