using System.Buffers;
using MQTTnet;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// A message the MQTT handler handed to the pipeline. MQTTnet reuses its receive buffers, so the payload
/// is copied into a pooled array that the partition returns once the message is done. A payload over the
/// contract's limit is not copied at all (<see cref="Buffer"/> is null, <see cref="Length"/> says how big).
/// </summary>
internal readonly record struct InboundMessage(
    string DeviceId,
    UplinkTopic Topic,
    byte[]? Buffer,
    int Length,
    MqttApplicationMessageReceivedEventArgs? Delivery)
{
    /// <summary>How the payload is encoded: it picks the decoder. A byte, so the struct stays its size.</summary>
    public PayloadEncoding Encoding { get; init; }

    /// <summary>The subscriber connection (<see cref="SubscriberConnection.Current"/>) that received it.</summary>
    public int Connection { get; init; }

    /// <summary>Staged in an earlier round that then failed: its rate-limit token is spent, its device told of
    /// its rejected readings and it is counted, so a retry does none of that again.</summary>
    public bool Staged { get; init; }

    /// <summary>Held in an earlier round for readings ahead of a service clock under suspicion: its rate-limit token is
    /// spent and its vote on whose clock is wrong cast, so its retries spend and vote nothing again.</summary>
    public bool ClockHeld { get; init; }

    /// <summary>When the pipeline took it (<see cref="TimeProvider.GetTimestamp"/> of the pipeline's clock), for the ack
    /// latency; 0 when it was made elsewhere (tests).</summary>
    public long ReceivedAt { get; init; }

    public ReadOnlySpan<byte> Payload => Buffer is null ? default : Buffer.AsSpan(0, Length);

    public bool IsTooLarge => Buffer is null && Length > TelemetryDecoder.MaxPayloadBytes;

    public static InboundMessage Copy(
        string deviceId, UplinkTopic topic, ReadOnlySequence<byte> payload, MqttApplicationMessageReceivedEventArgs? delivery,
        int connection = 0, PayloadEncoding encoding = PayloadEncoding.Json)
    {
        if (payload.Length > TelemetryDecoder.MaxPayloadBytes)
        {
            return new InboundMessage(deviceId, topic, null, (int)Math.Min(payload.Length, int.MaxValue), delivery) { Connection = connection, Encoding = encoding };
        }

        var length = (int)payload.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        payload.CopyTo(buffer);
        return new InboundMessage(deviceId, topic, buffer, length, delivery) { Connection = connection, Encoding = encoding };
    }

    public void Release()
    {
        if (Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
        }
    }
}
