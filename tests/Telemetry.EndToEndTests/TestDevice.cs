using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Telemetry.EndToEndTests;

/// <summary>A real MQTT client that publishes like a device and records what it receives.</summary>
public sealed partial class TestDevice : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly Channel<(string Topic, JsonElement Payload)> _received = Channel.CreateUnbounded<(string, JsonElement)>();

    public static async Task<TestDevice> ConnectAsync(
        int port, string clientId, MqttProtocolVersion protocol, (string User, string Password)? credentials, params string[] subscriptions)
    {
        var device = new TestDevice();
        device._client.ApplicationMessageReceivedAsync += e =>
        {
            var json = JsonDocument.Parse(e.ApplicationMessage.Payload).RootElement.Clone();
            device._received.Writer.TryWrite((e.ApplicationMessage.Topic, json));
            return Task.CompletedTask;
        };
        var connected = await device._client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId(clientId)
            .WithProtocolVersion(protocol)
            .WithCleanSession()
            .WithCredentials(credentials?.User, credentials?.Password)
            .Build());
        device.AssignedClientId = connected.AssignedClientIdentifier;
        device.ConnectResult = connected.ResultCode;
        if (connected.ResultCode != MqttClientConnectResultCode.Success)
        {
            return device;
        }

        foreach (var topic in subscriptions)
        {
            var granted = await device._client.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
            device.SubscribeResults.Add(granted.Items.Single().ResultCode);
        }

        return device;
    }

    /// <summary>The id the broker gave this client when it connected without one (MQTT 5 only).</summary>
    public string? AssignedClientId { get; private set; }

    /// <summary>What the broker answered to CONNECT; a refused client stays unconnected.</summary>
    public MqttClientConnectResultCode ConnectResult { get; private set; }

    /// <summary>What the broker answered to each subscription, in order.</summary>
    public List<MqttClientSubscribeResultCode> SubscribeResults { get; } = [];

    /// <summary>Publishes at QoS 1; <paramref name="contentType"/> is the MQTT 5 content type (none when null).</summary>
    public Task<MqttClientPublishResult> PublishAsync(string topic, byte[] payload, bool retain = false, string? contentType = null) => _client.PublishAsync(
        new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(retain)
            .WithContentType(contentType)
            .Build());

    /// <summary>Messages a <see cref="ReceiveAsync(string, Func{JsonElement, bool}, string)"/> passed over, oldest
    /// first: an ack that arrives before the error a test waits for is still there when it waits for the ack.</summary>
    private readonly List<(string Topic, JsonElement Payload)> _passedOver = [];

    /// <summary>Waits for the next message on any topic.</summary>
    public async Task<(string Topic, JsonElement Payload)> ReceiveAsync(string what)
    {
        if (_passedOver.Count > 0)
        {
            var first = _passedOver[0];
            _passedOver.RemoveAt(0);
            return first;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            return await _received.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No {what} within 20 s.");
        }
    }

    /// <summary>Waits for a message matching <paramref name="match"/>; fails the test with a message on timeout.
    /// Messages that do not match are kept for later calls, in order.</summary>
    public async Task<JsonElement> ReceiveAsync(string topic, Func<JsonElement, bool> match, string what)
    {
        var kept = _passedOver.FindIndex(m => m.Topic == topic && match(m.Payload));
        if (kept >= 0)
        {
            var found = _passedOver[kept].Payload;
            _passedOver.RemoveAt(kept);
            return found;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (true)
            {
                var (received, payload) = await _received.Reader.ReadAsync(timeout.Token);
                if (received == topic && match(payload))
                {
                    return payload;
                }

                _passedOver.Add((received, payload));
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No {what} on {topic} within 20 s.");
        }
    }

    /// <summary>A vector with its readings' timestamps moved so the newest is now, as the replay script does.</summary>
    public static byte[] Vector(string file)
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "vectors", file));
        var epoch = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "vectors", "manifest.json")))
            .RootElement.GetProperty("epoch_ms").GetInt64();
        var shift = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - epoch;
        return Encoding.UTF8.GetBytes(TimestampPattern().Replace(text, m => $"\"ts\":{long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + shift}"));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_client.IsConnected)
            {
                await _client.DisconnectAsync();
            }
        }
        catch (MQTTnet.Exceptions.MqttCommunicationException)
        {
            // The broker (or the guard in front of it) already closed the connection.
        }

        _client.Dispose();
    }

    [GeneratedRegex("\"ts\":(\\d+)")]
    private static partial Regex TimestampPattern();
}
