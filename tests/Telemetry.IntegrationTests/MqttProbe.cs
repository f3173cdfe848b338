using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Telemetry.IntegrationTests;

/// <summary>
/// An MQTT 5 client that records every message it receives: an intruder, an eavesdropper, or an observer
/// with the service's account. <see cref="ConnectAsync"/> returns the broker's CONNACK instead of throwing,
/// so a test can assert the reason code of a refusal.
/// </summary>
public sealed class MqttProbe : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly List<ReceivedMessage> _received = [];
    private readonly int _port;
    private readonly string? _username;
    private readonly string? _password;
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="username">Null connects without credentials.</param>
    public MqttProbe(int port, string? username, string? password, string clientId)
    {
        _port = port;
        _username = username;
        _password = password;
        ClientId = clientId;
        _client.ApplicationMessageReceivedAsync += e =>
        {
            var message = new ReceivedMessage(e.ApplicationMessage.Topic, e.ApplicationMessage.ConvertPayloadToString() ?? string.Empty, e.ApplicationMessage.Retain);
            TaskCompletionSource arrived;
            lock (_received)
            {
                _received.Add(message);
                arrived = _arrived;
                _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            arrived.SetResult();
            return Task.CompletedTask;
        };
    }

    /// <summary>A message as this client got it; <see cref="Retained"/> when the broker sent a stored message.</summary>
    public sealed record ReceivedMessage(string Topic, string Payload, bool Retained);

    /// <summary>The client id this client presents (the broker may replace it).</summary>
    public string ClientId { get; }

    /// <summary>False asks the broker to resume a session with this client id. Default true.</summary>
    public bool CleanStart { get; init; } = true;

    /// <summary>Seconds the broker keeps the session after a disconnect. Default 0.</summary>
    public uint SessionExpiry { get; init; }

    public IReadOnlyList<ReceivedMessage> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    public Task<MqttClientConnectResult> ConnectAsync()
    {
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", _port)
            .WithClientId(ClientId)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(CleanStart)
            .WithSessionExpiryInterval(SessionExpiry)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (_username is not null)
        {
            options = options.WithCredentials(_username, _password);
        }

        // MQTTnet 5 returns a refusal as a result; it does not throw.
        return _client.ConnectAsync(options.Build());
    }

    public Task SubscribeAsync(params string[] filters)
    {
        var subscription = new MqttClientSubscribeOptionsBuilder();
        foreach (var filter in filters)
        {
            subscription = subscription.WithTopicFilter(f => f.WithTopic(filter).WithAtLeastOnceQoS());
        }

        return _client.SubscribeAsync(subscription.Build());
    }

    public Task<MqttClientPublishResult> PublishAsync(string topic, string payload, bool retain = false) =>
        PublishAsync(topic, Encoding.UTF8.GetBytes(payload), retain);

    /// <summary>Publishes bytes at QoS 1, with an MQTT 5 content type when <paramref name="contentType"/> is set.</summary>
    public Task<MqttClientPublishResult> PublishAsync(string topic, byte[] payload, bool retain = false, string? contentType = null) =>
        _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic).WithPayload(payload).WithContentType(contentType)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(retain).Build());

    /// <summary>
    /// Waits until <paramref name="count"/> received messages match, or fails naming <paramref name="what"/>
    /// and listing what did arrive.
    /// </summary>
    public async Task WaitForAsync(Func<ReceivedMessage, bool> match, TimeSpan timeout, string what, int count = 1)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            Task next;
            lock (_received)
            {
                if (_received.Count(match) >= count)
                {
                    return;
                }

                next = _arrived.Task;
            }

            try
            {
                await next.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                var seen = string.Join(", ", Received.Select(m => m.Topic));
                throw new TimeoutException($"{ClientId}: no {what} within {timeout.TotalSeconds} s; received [{seen}].");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }

        _client.Dispose();
    }
}
