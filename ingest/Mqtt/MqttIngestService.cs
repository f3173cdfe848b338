using Microsoft.Extensions.Options;
using MQTTnet;
using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// The MQTT consumer: one client with a persistent session, subscribed at QoS 1 to device births and
/// telemetry. It acknowledges nothing itself (manual acknowledgement): the pipeline acknowledges a message
/// once its grain has it, so a crash means redelivery. MQTTnet 5 has no managed client, so a loop checks the
/// connection and reconnects.
/// </summary>
internal sealed partial class MqttIngestService(
    MqttClientOptionsFactory clientOptions,
    IngestPipeline pipeline,
    IngestCounters counters,
    IOptions<BrokerOptions> brokerOptions,
    TimeProvider time,
    ILogger<MqttIngestService> logger) : BackgroundService
{
    private IMqttClient? _client;
    private volatile bool _subscribed;

    /// <summary>Connected and subscribed: only then do device messages reach the pipeline.</summary>
    public bool IsConnected => _subscribed && (_client?.IsConnected ?? false);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        _client = client;
        client.ApplicationMessageReceivedAsync += e => OnMessageAsync(e, stoppingToken);

        var options = clientOptions.Create("ingest", persistentSession: true);
        // The broker sends at most this many unacknowledged messages, and we acknowledge only after the
        // grain has the message: that is what bounds memory end to end when the pipeline backs up.
        options.ReceiveMaximum = brokerOptions.Value.ReceiveMaximum;
        var subscription = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(DeviceTopics.BirthFilter).WithAtLeastOnceQoS())
            .WithTopicFilter(f => f.WithTopic(DeviceTopics.TelemetryFilter).WithAtLeastOnceQoS())
            .Build();

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!await client.TryPingAsync(stoppingToken))
                {
                    _subscribed = false;
                    var result = await client.ConnectAsync(options, stoppingToken);
                    await client.SubscribeAsync(subscription, stoppingToken);
                    _subscribed = true;
                    LogConnected(logger, clientOptions.Broker.Host, clientOptions.Broker.Port, result.IsSessionPresent);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                LogConnectFailed(logger, e, clientOptions.Broker.Host, clientOptions.Broker.Port);
            }

            try
            {
                await Task.Delay(brokerOptions.Value.ReconnectDelay, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        if (client.IsConnected)
        {
            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None);
        }
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e, CancellationToken stoppingToken)
    {
        e.AutoAcknowledge = false;
        if (!DeviceTopics.TryParse(e.ApplicationMessage.Topic, out var deviceId, out var topic))
        {
            // Not a device topic we can answer on (bad id): count it and let the broker forget it.
            counters.InvalidTopic();
            LogInvalidTopic(logger, e.ApplicationMessage.Topic);
            await e.AcknowledgeAsync(stoppingToken);
            return;
        }

        var message = InboundMessage.Copy(deviceId, topic, e.ApplicationMessage.Payload, e);
        try
        {
            // Waits while the device's partition is full: backpressure.
            await pipeline.WriteAsync(message, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            message.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Ingest subscriber connected to {Host}:{Port} (session present: {SessionPresent})")]
    private static partial void LogConnected(ILogger logger, string host, int port, bool sessionPresent);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingest subscriber cannot reach {Host}:{Port}; retrying")]
    private static partial void LogConnectFailed(ILogger logger, Exception exception, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a message on topic {Topic}: not devices/{{valid id}}/birth|telemetry")]
    private static partial void LogInvalidTopic(ILogger logger, string topic);
}
