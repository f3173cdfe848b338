using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// Everything the service publishes, on its own connection so that a stalled consumer never blocks a reply.
/// Acks coalesce: only the newest ack per (device, boot) waits, and all waiting acks go out every
/// <see cref="UplinkOptions.AckInterval"/>. Alerts queue with backpressure and are retried until the broker
/// takes them. Error reports are advisory: when their queue is full they are dropped and counted.
/// </summary>
internal sealed partial class MqttOutbox(
    MqttClientOptionsFactory clientOptions,
    IOptions<BrokerOptions> brokerOptions,
    IOptions<UplinkOptions> uplinkOptions,
    TimeProvider time,
    ILogger<MqttOutbox> logger) : BackgroundService, IDeviceReplies
{
    private const int QueueCapacity = 10_000;

    private readonly ConcurrentDictionary<(string Device, string Boot), MessageKey> _acks = new();
    private readonly Channel<OutboundMessage> _alerts = Channel.CreateBounded<OutboundMessage>(
        new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
    private readonly Channel<OutboundMessage> _errors = Channel.CreateBounded<OutboundMessage>(
        new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();

    public bool IsConnected => _client.IsConnected;

    public void Ack(string deviceId, MessageKey ack) =>
        _acks.AddOrUpdate((deviceId, ack.Boot), ack, (_, existing) => ack.Seq >= existing.Seq ? ack : existing);

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

    /// <summary>A quality signal, retained so that a consumer that connects later gets the current status.</summary>
    public ValueTask EnqueueQualityAsync(string topic, byte[] payload, CancellationToken cancellationToken) =>
        _alerts.Writer.WriteAsync(new OutboundMessage(topic, payload, Retain: true), cancellationToken);

    public ValueTask EnqueueAlertAsync(AlertEvent alert, CancellationToken cancellationToken) =>
        _alerts.Writer.WriteAsync(new OutboundMessage(DeviceTopics.Alerts(alert.Device), ReplyJson.Alert(alert)), cancellationToken);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        KeepConnectedAsync(stoppingToken),
        DrainAsync(_alerts.Reader, stoppingToken),
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
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!await _client.TryPingAsync(stoppingToken))
                {
                    await _client.ConnectAsync(options, stoppingToken);
                    LogConnected(logger, clientOptions.Broker.Host, clientOptions.Broker.Port);
                }

                await Task.Delay(brokerOptions.Value.ReconnectDelay, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                LogConnectFailed(logger, e, clientOptions.Broker.Host, clientOptions.Broker.Port);
                await Delay(stoppingToken);
            }
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
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task FlushAcksAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(uplinkOptions.Value.AckInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var key in _acks.Keys)
                {
                    if (!_acks.TryRemove(key, out var ack))
                    {
                        continue;
                    }

                    if (!await TryPublishAsync(new OutboundMessage(DeviceTopics.Ack(key.Device), ReplyJson.Ack(ack)), stoppingToken))
                    {
                        // Keep it for the next tick unless a newer ack arrived meanwhile.
                        Ack(key.Device, ack);
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
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
            var result = await _client.PublishAsync(
                new MqttApplicationMessageBuilder()
                    .WithTopic(message.Topic)
                    .WithPayload(message.Payload)
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .WithRetainFlag(message.Retain)
                    .Build(),
                stoppingToken);
            // "No matching subscribers" is success: nobody listens for this device right now.
            return result.IsSuccess || result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers;
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogPublishFailed(logger, e, message.Topic);
            return false;
        }
    }

    private Task Delay(CancellationToken stoppingToken) =>
        Task.Delay(brokerOptions.Value.ReconnectDelay, time, stoppingToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox publisher connected to {Host}:{Port}")]
    private static partial void LogConnected(ILogger logger, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox publisher cannot reach {Host}:{Port}; retrying")]
    private static partial void LogConnectFailed(ILogger logger, Exception exception, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing to {Topic} failed; will retry")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string topic);
}
