using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Telemetry.Models.Simulation;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Simulation;

/// <summary>
/// The firmware side of one simulated device: its own MQTT connection (client id and username are its device
/// id), a buffer of messages not yet acked, and the resend rule of the contract. It deletes a message only
/// when the service's ack covers it, never on the broker's PUBACK.
/// </summary>
internal sealed class SimulatedUplink(SimulatedDevice device, string boot, TimeSpan resendAfter, string token) : IDisposable
{
    /// <summary>Readings per message: well under the 500 limit and the 64 KiB payload limit.</summary>
    private const int ReadingsPerMessage = 200;

    /// <summary>Messages the device can hold, like a pod's flash; beyond it the oldest are lost (counted).</summary>
    private const int BufferCapacity = 2000;

    /// <summary>Messages sent per tick, to stay inside the service's per-device rate limit when catching up.</summary>
    private const int SendsPerTick = 10;

    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly SortedDictionary<uint, PendingMessage> _pending = [];
    private readonly Lock _lock = new();
    private uint _nextSeq;

    public SimulatedDevice Device { get; } = device;

    public bool IsConnected => _client.IsConnected;

    public long Acked { get; private set; }

    public long Lost { get; private set; }

    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    public async Task ConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        if (_client.IsConnected)
        {
            return;
        }

        _client.ApplicationMessageReceivedAsync -= OnAckAsync;
        _client.ApplicationMessageReceivedAsync += OnAckAsync;
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithClientId(Device.Id)
            .WithCredentials(Device.Id, token)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart()
            .Build();
        await _client.ConnectAsync(options, cancellationToken);
        await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(DeviceTopics.Ack(Device.Id)).WithAtLeastOnceQoS())
            .Build(), cancellationToken);

        // The birth is retained and sent on every connect, as the contract asks.
        await _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic($"devices/{Device.Id}/birth")
            .WithPayload(BirthPayload())
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag()
            .Build(), cancellationToken);
    }

    /// <summary>Packs readings into telemetry messages and buffers them for sending.</summary>
    public void Enqueue(List<SimulatedReading> readings)
    {
        for (var offset = 0; offset < readings.Count; offset += ReadingsPerMessage)
        {
            var count = Math.Min(ReadingsPerMessage, readings.Count - offset);
            lock (_lock)
            {
                var seq = _nextSeq++;
                _pending[seq] = new PendingMessage(TelemetryPayload(seq, readings, offset, count));
                if (_pending.Count > BufferCapacity)
                {
                    _pending.Remove(_pending.Keys.First());
                    Lost++;
                }
            }
        }
    }

    /// <summary>Sends buffered messages never sent, or not acked within the resend timeout.</summary>
    public async Task SendDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!_client.IsConnected)
        {
            return;
        }

        List<(uint Seq, PendingMessage Message)> due = [];
        lock (_lock)
        {
            foreach (var (seq, message) in _pending)
            {
                if (message.SentAt is null || now - message.SentAt >= resendAfter)
                {
                    due.Add((seq, message));
                    if (due.Count == SendsPerTick)
                    {
                        break;
                    }
                }
            }
        }

        foreach (var (_, message) in due)
        {
            await _client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"devices/{Device.Id}/telemetry")
                .WithPayload(message.Payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build(), cancellationToken);
            message.SentAt = now;
        }
    }

    public void Dispose() => _client.Dispose();

    private Task OnAckAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var reader = new Utf8JsonReader(e.ApplicationMessage.Payload);
        string? ackBoot = null;
        uint? ackSeq = null;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("boot"u8) && reader.Read())
            {
                ackBoot = reader.GetString();
            }
            else if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("seq"u8) && reader.Read())
            {
                ackSeq = reader.GetUInt32();
            }
        }

        if (ackBoot == boot && ackSeq is { } upTo)
        {
            lock (_lock)
            {
                foreach (var seq in _pending.Keys.TakeWhile(s => s <= upTo).ToList())
                {
                    _pending.Remove(seq);
                    Acked++;
                }
            }
        }

        return Task.CompletedTask;
    }

    private byte[] BirthPayload() => Write(w =>
    {
        var birth = Device.Birth;
        w.WriteNumber("v", 1);
        w.WriteString("kind", birth.Kind == DeviceKind.Shoe ? "shoe" : "band");
        w.WriteString("model", birth.Model);
        w.WriteString("batch", birth.Batch);
        w.WriteString("firmware", birth.Firmware);
        w.WriteString("manufactured", birth.Manufactured.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        if (birth.WearerKg is { } kg)
        {
            w.WriteNumber("wearer_kg", kg);
        }

        if (birth.RatedCapacityMah is { } mah)
        {
            w.WriteNumber("rated_capacity_mah", mah);
        }
    });

    private byte[] TelemetryPayload(uint seq, List<SimulatedReading> readings, int offset, int count) => Write(w =>
    {
        w.WriteNumber("v", 1);
        w.WriteString("boot", boot);
        w.WriteNumber("seq", seq);
        w.WriteStartArray("readings");
        for (var i = offset; i < offset + count; i++)
        {
            w.WriteStartObject();
            w.WriteNumber("ts", readings[i].TimestampMs);
            w.WriteStartObject("m");
            foreach (var (name, value) in readings[i].Metrics)
            {
                w.WriteNumber(name, value);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndArray();
    });

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private sealed class PendingMessage(byte[] payload)
    {
        public byte[] Payload { get; } = payload;

        public DateTimeOffset? SentAt { get; set; }
    }
}
