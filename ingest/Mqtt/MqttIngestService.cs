using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using MQTTnet;
using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// The MQTT consumer: one client with a persistent session, subscribed at QoS 1 to device births and
/// telemetry. It acknowledges nothing itself (manual acknowledgement): the pipeline acknowledges a message
/// once its grain has it, so a crash means redelivery. MQTTnet 5 has no managed client, so a loop checks the
/// connection and reconnects; it also reconnects when the pipeline asks (an acknowledgement that could not be
/// sent), so the broker redelivers what is unacknowledged.
/// <para>
/// At shutdown it stops handing messages to the pipeline first, lets the pipeline finish its round in flight
/// while the connection is still up to carry the acknowledgements, and only then disconnects.
/// </para>
/// </summary>
internal sealed partial class MqttIngestService(
    MqttClientOptionsFactory clientOptions,
    IngestPipeline pipeline,
    SubscriberConnection connection,
    IngestCounters counters,
    ComponentHealth health,
    IOptions<BrokerOptions> brokerOptions,
    TimeProvider time,
    ILogger<MqttIngestService> logger) : BackgroundService
{
    public const string Component = "broker/ingest";


    // Progress is a thousand deliveries (or the whole window, when smaller) since the probe left: a larger Receive Maximum
    // is for larger rounds under a backlog, not a reason to call a slow but moving broker stalled.
    private readonly DeliveryWatch _watch = new(brokerOptions.Value.StallAfter, Math.Min((int)brokerOptions.Value.ReceiveMaximum, BrokerOptions.DefaultServiceWindow), time);
    private readonly SubscriberTopics _topics = SubscriberTopics.For(brokerOptions.Value, $"{brokerOptions.Value.ClientIdPrefix}-ingest");
    private IMqttClient? _client;
    private volatile bool _subscribed;
    private volatile bool _accepting = true;
    private volatile bool _probeRefused;
    private volatile bool _probeFilterRefused;
    private bool _staleDropped;
    private bool _staleFailureLogged;
    private int _connection;
    private long _heardAt = -1;
    private ReceiveWindowAdapterFactory? _adapters;

    /// <summary>Connected and subscribed: only then do device messages reach the pipeline.</summary>
    public bool IsConnected => _subscribed && (_client?.IsConnected ?? false);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The window is kept on this side as well: a broker that sends past it is held back by TCP instead of filling
        // MQTTnet's queue (ReceiveWindow.cs).
        var adapters = new ReceiveWindowAdapterFactory(brokerOptions.Value.ReceiveWindowBytes, OnWindowExceeded, counters.WindowBytesFilled);
        _adapters = adapters;
        using var client = new MqttClientFactory(new MQTTnet.Diagnostics.Logger.MqttNetNullLogger(), adapters).CreateMqttClient();
        _client = client;
        client.ApplicationMessageReceivedAsync += e => OnMessageAsync(e, stoppingToken);

        var options = clientOptions.Create("ingest", persistentSession: true);
        // At most this many unacknowledged messages, and we acknowledge only after the grain has the message: that
        // bounds memory end to end when the pipeline backs up. Mosquitto 2.0.11 does not keep to it for a session
        // with a backlog once PUBACKs flow, and MQTTnet would queue whatever arrives, so the client's adapter
        // (ReceiveWindow.cs) keeps it too.
        options.ReceiveMaximum = brokerOptions.Value.ReceiveMaximum;
        var subscriptionBuilder = new MqttClientSubscribeOptionsBuilder();
        foreach (var filter in _topics.Filters)
        {
            subscriptionBuilder = subscriptionBuilder.WithTopicFilter(f => f.WithTopic(filter).WithAtLeastOnceQoS());
        }

        var subscription = subscriptionBuilder.Build();

        var watching = WatchDeliveriesAsync(client, stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (connection.TakeReconnectRequest() && client.IsConnected)
                {
                    // Unacknowledged deliveries hold places in the broker's in-flight window until the session's
                    // connection closes; reconnecting makes the broker send them again.
                    LogReconnecting(logger);
                    _subscribed = false;
                    // From here on the old connection's deliveries are stale: an acknowledgement of one that fails
                    // now must not ask for yet another reconnect.
                    Volatile.Write(ref _connection, connection.Opened());
                    _watch.Reset();
                    await BoundedMqtt.DisconnectAsync(client, stoppingToken);
                }

                var subscribed = _subscribed;
                if (!subscribed || !await HearsFromBrokerAsync(client, stoppingToken))
                {
                    // Not subscribed (SUBSCRIBE given up on: a new session would get nothing on this connection, and
                    // its pings are answered), or the broker went silent: the connection is opened again.
                    _subscribed = false;
                    if (client.IsConnected)
                    {
                        // Connected as far as MQTTnet knows, but the broker did not answer (or the subscription is
                        // missing): MQTTnet refuses to connect a client it thinks is connected, so the connection is
                        // closed first. Its deliveries are stale from here on, as on a requested reconnect: an
                        // acknowledgement that fails as it closes must not ask for yet another reconnect.
                        if (subscribed)
                        {
                            counters.SubscriberNotAnswered();
                            LogUnanswered(logger, options.Timeout.TotalSeconds);
                        }

                        Volatile.Write(ref _connection, connection.Opened());
                        _watch.Reset();
                        await BoundedMqtt.DisconnectAsync(client, stoppingToken);
                    }

                    // Numbered before CONNECT: MQTTnet starts its receive loop inside ConnectAsync, and a resumed
                    // session's unacknowledged messages come right after CONNACK, before ConnectAsync returns. They
                    // must carry this connection's number, or they would never be acknowledged on it and hold their
                    // places in the broker's in-flight window for good.
                    Volatile.Write(ref _connection, connection.Opened());
                    _watch.Reset();
                    // A reconnect asked for on the connection that just failed is this one.
                    connection.TakeReconnectRequest();
                    // What this connection delivers counts from here (Delivering).
                    Interlocked.Exchange(ref _heardAt, counters.DeliveriesReceived);
                    var result = await BoundedMqtt.ConnectAsync(client, options, stoppingToken);
                    // Waited for as long as deliveries come: the SUBACK queues behind a resumed session's backlog.
                    var refused = await BoundedMqtt.SubscribeAsync(client, subscription, DeliveringWhileSubscribing, time, stoppingToken);
                    _subscribed = true;
                    // Recomputed at every SUBACK: an ACL fixed since the last one turns the watch back on.
                    _probeFilterRefused = refused.Any(r => r.Filter == _topics.ProbeFilter && (int)r.Code >= 0x80);
                    if (refused.Count == 0)
                    {
                        health.Clear(Component);
                    }
                    else
                    {
                        // Kept connected: what was granted still delivers, and an ACL does not change by reconnecting.
                        var named = string.Join(", ", refused.Select(r => $"{r.Filter}: {r.Code}"));
                        health.Report(Component, HealthStatus.Unhealthy, $"the broker refused the subscription to {named}");
                        LogSubscriptionRefused(logger, named);
                    }

                    LogConnected(logger, clientOptions.Broker.Host, clientOptions.Broker.Port, result.IsSessionPresent);
                    await DropStaleFiltersAsync(client, stoppingToken);
                }
            }
            catch (Exception e) when (stoppingToken.IsCancellationRequested)
            {
                // Cut off by the stop: MQTTnet ends a CONNECT, SUBSCRIBE or ping whose token is cancelled with its own
                // timeout exception (or whichever one the client throws as the connection goes), not a cancellation.
                // It is the stop, not a broker out of reach: no Unhealthy report, no warning.
                LogCutOffByStop(logger, e);
                break;
            }
            catch (SubscribeNotAnsweredException e)
            {
                // Connected, and neither answered nor delivering: a new session would get nothing on this connection,
                // and its pings are answered. The next pass closes it and starts over.
                _subscribed = false;
                counters.SubscriberNotAnswered();
                health.Report(Component, HealthStatus.Unhealthy, e.Message);
                LogSubscribeNotAnswered(logger, e.Message);
            }
            catch (Exception e)
            {
                health.Report(Component, HealthStatus.Unhealthy, FormattableString.Invariant(
                    $"cannot reach the broker at {clientOptions.Broker.Host}:{clientOptions.Broker.Port}: {e.Message}"));
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

        await watching;
        if (client.IsConnected)
        {
            try
            {
                // No token: MQTTnet bounds the DISCONNECT by the client's own timeout then.
                await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None);
            }
            catch (Exception e)
            {
                // The connection went under the DISCONNECT (the broker closed it, or stopped reading): MQTTnet throws,
                // and closes the socket all the same. What is unacknowledged stays in the session for the next run; an
                // exception here would only fault this service, and the host would log a failed BackgroundService.
                LogDisconnectFailed(logger, e);
            }
        }
    }

    /// <summary>
    /// Drops the plain filters a persistent session may hold from before <c>Broker:SharedGroup</c>
    /// (<see cref="SubscriberTopics.Stale"/>), once per run: dropped, they stay dropped in the session. Its UNSUBACK can
    /// queue behind a backlog of deliveries, so it is waited for while they come, as the SUBACK is; a failure is logged
    /// once, and tried again on the next connection.
    /// </summary>
    private async Task DropStaleFiltersAsync(IMqttClient client, CancellationToken stoppingToken)
    {
        if (_topics.Stale.Count == 0 || _staleDropped)
        {
            return;
        }

        var failed = await BoundedMqtt.TryUnsubscribeAsync(client, _topics.Stale, Delivering, time, stoppingToken);
        if (failed.Count == 0)
        {
            _staleDropped = true;
        }
        else if (!_staleFailureLogged)
        {
            _staleFailureLogged = true;
            LogUnsubscribeFailed(logger, string.Join(", ", failed.Select(f => $"{f.Filter}: {f.Reason}")));
        }
    }

    /// <summary>
    /// Every <c>Broker:ProbeInterval</c>: sends a probe when none is on its way, or reconnects when the broker has
    /// stalled (<see cref="DeliveryWatch"/>). Reconnecting is what makes a broker deliver again: it resends what is
    /// unacknowledged and recounts its in-flight window, on a new TCP connection.
    /// </summary>
    private async Task WatchDeliveriesAsync(IMqttClient client, CancellationToken stoppingToken)
    {
        var interval = brokerOptions.Value.ProbeInterval;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        var probing = Task.CompletedTask;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                await probing;
                return;
            }

            try
            {
                CheckDeliveries(client, stoppingToken, ref probing);
            }
            catch (Exception e)
            {
                // The watch must outlive its own faults: a silent watch is the very thing it exists to prevent.
                LogWatchFailed(logger, e);
            }
        }
    }

    private void CheckDeliveries(IMqttClient client, CancellationToken stoppingToken, ref Task probing)
    {
        if (!IsConnected || !_accepting || _probeRefused || _probeFilterRefused)
        {
            _watch.Reset();
            return;
        }

        if (!_watch.Waiting)
        {
            // Not awaited: a broker that does not answer must not hold up the judgement.
            if (probing.IsCompleted)
            {
                probing = SendProbeAsync(client, Volatile.Read(ref _connection), stoppingToken);
            }

            return;
        }

        // Busy: work the broker is rightly waiting on (queued, held for a retry, or in a round not yet acknowledged).
        var busy = pipeline.Queued > 0 || pipeline.Held > 0 || counters.DeliveriesOutstanding > 0;
        var stallAfter = _watch.StallAfter;
        if (_watch.IsStalled(busy, counters.DeliveriesReceived))
        {
            counters.SubscriberStalled();
            LogStalled(logger, stallAfter.TotalSeconds);
            connection.RequestReconnect();
        }
    }

    /// <summary>
    /// Whether the broker is still there: it delivered something since the last check, or the receive window has
    /// stopped reading the socket (a ping's answer would wait there behind deliveries, until acknowledgements reopen
    /// it), or it answers a ping in time. A ping's answer comes behind whatever the broker sent before it, so
    /// deliveries that arrive while it waits say the same. Deliveries held in the pipeline are no such sign: while the
    /// window is open, MQTTnet reads on behind them.
    /// </summary>
    private async Task<bool> HearsFromBrokerAsync(IMqttClient client, CancellationToken stoppingToken)
    {
        if (!client.IsConnected)
        {
            return false;
        }

        var received = counters.DeliveriesReceived;
        if (Delivering())
        {
            return true;
        }

        return await BoundedMqtt.TryPingAsync(client, stoppingToken) || counters.DeliveriesReceived != received;
    }

    /// <summary>
    /// <see cref="Delivering"/>, while the SUBACK is awaited: a connection that delivers is up, and is reported so (health,
    /// delivery watch) rather than as down for as long as a resumed session's backlog keeps the SUBACK behind it.
    /// </summary>
    private bool DeliveringWhileSubscribing()
    {
        if (!Delivering())
        {
            return false;
        }

        if (!_subscribed)
        {
            _subscribed = true;
            health.Clear(Component);
            LogAwaitingSuback(logger);
        }

        return true;
    }

    /// <summary>Something was delivered since the last check, or the receive window holds the socket (what waits there
    /// behind the deliveries cannot be read until acknowledgements reopen it).</summary>
    private bool Delivering()
    {
        var received = counters.DeliveriesReceived;
        return Interlocked.Exchange(ref _heardAt, received) != received || (_adapters?.Holding ?? false);
    }

    private async Task SendProbeAsync(IMqttClient client, int onConnection, CancellationToken stoppingToken)
    {
        // Started before the publish: the probe can come back before PublishAsync returns.
        var payload = _watch.Send(counters.DeliveriesReceived);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(brokerOptions.Value.ResponseTimeout);
            var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(_topics.ProbeTopic)
                .WithPayload(payload)
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce)
                .Build(), timeout.Token);
            if (!result.IsSuccess)
            {
                // Refused (an ACL without the probe topic, say): the watch is off until the service restarts.
                _probeRefused = true;
                _watch.Reset();
                LogProbeRefused(logger, _topics.ProbeTopic, result.ReasonCode.ToString());
            }
        }
        catch (Exception) when (!stoppingToken.IsCancellationRequested && onConnection == Volatile.Read(ref _connection) && IsConnected)
        {
            // No PUBACK within the timeout on the connection it was sent on, still up: the broker is not even reading
            // what the subscriber sends (its acknowledgements included). The probe stays on its way, so that this is
            // judged a stall like any other.
        }
        catch (Exception)
        {
            // Stopping, or its connection is gone (a new one forgets every probe): the connection loop deals with it.
        }
    }

    /// <summary>
    /// Stops in the order that loses nothing: no new messages to the pipeline, the pipeline's round in flight
    /// finished and acknowledged over the still-open connection, then the disconnect.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _accepting = false;
        await pipeline.StopAsync(cancellationToken);
        await base.StopAsync(cancellationToken);
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e, CancellationToken stoppingToken)
    {
        e.AutoAcknowledge = false;
        counters.DeliveryReceived();
        if (!_accepting)
        {
            // Shutting down: left unacknowledged, so the broker delivers it to the next run.
            counters.DeliveryAbandoned();
            return;
        }

        if (e.ApplicationMessage.Topic.StartsWith(DeliveryWatch.TopicPrefix, StringComparison.Ordinal))
        {
            // A probe (this instance's, or another's, or one of an earlier run's topic): it only had to arrive.
            _watch.Returned(e.ApplicationMessage.ConvertPayloadToString());
            await AcknowledgeAsync(e, stoppingToken);
            return;
        }

        if (!DeviceTopics.TryParse(e.ApplicationMessage.Topic, e.ApplicationMessage.ContentType, out var deviceId, out var topic, out var encoding))
        {
            // Not a device topic we can answer on (bad id): count it and let the broker forget it.
            counters.InvalidTopic();
            LogInvalidTopic(logger, e.ApplicationMessage.Topic);
            await AcknowledgeAsync(e, stoppingToken);
            return;
        }

        var message = InboundMessage.Copy(deviceId, topic, e.ApplicationMessage.Payload, e, Volatile.Read(ref _connection), encoding);
        try
        {
            // Waits while the device's partition is full: backpressure.
            await pipeline.WriteAsync(message, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            counters.DeliveryAbandoned();
            message.Release();
        }
    }

    private void OnWindowExceeded()
    {
        counters.BrokerExceededWindow();
        LogWindowExceeded(logger, brokerOptions.Value.ReceiveMaximum);
    }

    /// <summary>Acknowledges a delivery that never enters the pipeline.</summary>
    private async Task AcknowledgeAsync(MqttApplicationMessageReceivedEventArgs e, CancellationToken stoppingToken)
    {
        try
        {
            await e.AcknowledgeAsync(stoppingToken);
            counters.DeliveryAcknowledged();
        }
        catch (Exception)
        {
            // The connection is going; the broker sends it again on the next one.
            counters.DeliveryAbandoned();
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Ingest subscriber connected to {Host}:{Port} (session present: {SessionPresent})")]
    private static partial void LogConnected(ILogger logger, string host, int port, bool sessionPresent);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The broker is not delivering: its probe has not come back in {Seconds} s while the pipeline was idle and less than a window arrived; reconnecting")]
    private static partial void LogStalled(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "The delivery watch failed a check; it goes on")]
    private static partial void LogWatchFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The broker refused the delivery probe on {Topic} ({ReasonCode}); the delivery watch is off until the service restarts with the topic allowed")]
    private static partial void LogProbeRefused(ILogger logger, string topic, string reasonCode);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The broker sent more than Broker:ReceiveMaximum ({Window}) unacknowledged deliveries; the subscriber stops reading until its acknowledgements catch up (counted as subscriber.window_exceeded)")]
    private static partial void LogWindowExceeded(ILogger logger, int window);

    [LoggerMessage(Level = LogLevel.Information, Message = "The connection delivers while its SUBACK waits behind the deliveries (a resumed session's backlog); it counts as up, and the SUBACK is still awaited")]
    private static partial void LogAwaitingSuback(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not drop the plain subscriptions of this session from before Broker:SharedGroup ({Failures}); if they are there, this instance receives every message besides its share. Tried again on each new connection, logged only once")]
    private static partial void LogUnsubscribeFailed(ILogger logger, string failures);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Reason}; the ingest subscriber starts over on a new connection")]
    private static partial void LogSubscribeNotAnswered(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The broker refused the ingest subscription to {Refused}; the connection is kept for what was granted")]
    private static partial void LogSubscriptionRefused(ILogger logger, string refused);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The broker delivered nothing and did not answer a ping within {Seconds} s; the ingest subscriber reconnects")]
    private static partial void LogUnanswered(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingest subscriber reconnects so that the broker redelivers what it could not acknowledge")]
    private static partial void LogReconnecting(ILogger logger);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The stop cut off the ingest subscriber's connection loop")]
    private static partial void LogCutOffByStop(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "The ingest subscriber's DISCONNECT did not get through as it stopped; the connection is closed all the same")]
    private static partial void LogDisconnectFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingest subscriber cannot reach {Host}:{Port}; retrying")]
    private static partial void LogConnectFailed(ILogger logger, Exception exception, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a message on topic {Topic}: not devices/{{valid id}}/birth|telemetry|telemetry/cbor")]
    private static partial void LogInvalidTopic(ILogger logger, string topic);
}
