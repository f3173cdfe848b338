using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// Keeps the subscriber's Receive Maximum on the client side, and bounds it in bytes. MQTT 5 lets a client name how
/// many QoS 1 and 2 deliveries may be unacknowledged at once, and the service's memory bound rests on it: MQTTnet queues
/// every PUBLISH it reads ahead of the application, without limit. Mosquitto 2.0.11 keeps to the window only until
/// acknowledgements start to flow; then it sends a session's whole backlog (docs/performance.md, "The broker's window
/// does not hold"). This adapter counts QoS&gt;0 PUBLISH packets read and PUBACK/PUBREC packets sent on its connection,
/// and stops reading the socket while the count is above the window, so that TCP holds the broker back. A broker that
/// keeps to the window never trips that gate.
/// <para>
/// MQTT has no window in bytes, so the second gate is this side's alone: the payload bytes of the deliveries read and
/// not yet acknowledged. Above <c>Broker:ReceiveWindowBytes</c> reading stops the same way. That is what lets the
/// window in messages be large (fewer, larger grain calls per device) without letting a fleet of large payloads take
/// the window times 64 KiB of memory. While either gate is closed nothing else is read either (a PINGRESP waits too);
/// acknowledgements keep flowing, so the broker keeps hearing from the subscriber.
/// </para>
/// </summary>
internal sealed class ReceiveWindowAdapterFactory(long windowBytes = long.MaxValue, Action? exceeded = null, Action? bytesFull = null) : IMqttClientAdapterFactory
{
    private readonly MqttClientAdapterFactory _inner = new();
    private ReceiveWindowAdapter? _current;

    /// <summary>True while the latest connection's adapter has stopped reading its socket: nothing the broker sent
    /// since, a PINGRESP included, can be read until acknowledgements reopen it.</summary>
    public bool Holding => Volatile.Read(ref _current)?.Holding ?? false;

    public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        var adapter = _inner.CreateClientAdapter(options, packetInspector, logger);
        // 0 means "not sent": the protocol's default of 65,535 applies.
        var windowed = new ReceiveWindowAdapter(adapter, options.ReceiveMaximum == 0 ? ushort.MaxValue : options.ReceiveMaximum, windowBytes, exceeded, bytesFull);
        Volatile.Write(ref _current, windowed);
        return windowed;
    }
}

/// <summary>One connection's adapter with the window kept (see <see cref="ReceiveWindowAdapterFactory"/>);
/// <paramref name="exceeded"/> is told each time the broker goes past the window in messages and reading stops,
/// <paramref name="bytesFull"/> each time the deliveries held reach <paramref name="windowBytes"/> and reading stops.</summary>
internal sealed class ReceiveWindowAdapter(IMqttChannelAdapter inner, int window, long windowBytes = long.MaxValue, Action? exceeded = null, Action? bytesFull = null) : IMqttChannelAdapter
{
    // Not disposed: an acknowledgement written as the connection closes may still release it.
    private readonly SemaphoreSlim _acked = new(0);

    // Per packet identifier (16-bit): 0 when nothing is outstanding under it, else 1 + the payload bytes of the
    // delivery its PUBACK will give back. An acknowledgement of an identifier not outstanding (a delivery of an earlier
    // connection, acknowledged late) then frees nothing, so the counts can neither leak nor drift below the truth.
    private readonly int[] _outstanding = new int[ushort.MaxValue + 1];
    private int _unacknowledged;
    private long _unacknowledgedBytes;
    private int _waiting;

    /// <summary>QoS&gt;0 deliveries read on this connection and not yet acknowledged (PUBACK) or received (PUBREC).</summary>
    public int Unacknowledged => Volatile.Read(ref _unacknowledged);

    /// <summary>Payload bytes of those deliveries.</summary>
    public long UnacknowledgedBytes => Interlocked.Read(ref _unacknowledgedBytes);

    /// <summary>True while reading waits for acknowledgements to bring the window back under its limits.</summary>
    public bool Holding => Volatile.Read(ref _waiting) == 1;

    public long BytesReceived => inner.BytesReceived;

    public long BytesSent => inner.BytesSent;

    public X509Certificate2? ClientCertificate => inner.ClientCertificate;

    public System.Net.EndPoint? RemoteEndPoint => inner.RemoteEndPoint;

    public System.Net.EndPoint? LocalEndPoint => inner.LocalEndPoint;

    public bool IsSecureConnection => inner.IsSecureConnection;

    public MqttPacketFormatterAdapter PacketFormatterAdapter => inner.PacketFormatterAdapter;

    public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

    public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
    {
        // Above the window: the broker sent more than it may. One packet past it is read (that is how it shows), the
        // next waits for an acknowledgement. Likewise the bytes: the delivery that crosses the limit is read.
        if (IsClosed())
        {
            if (Volatile.Read(ref _unacknowledged) > window)
            {
                exceeded?.Invoke();
            }
            else
            {
                bytesFull?.Invoke();
            }

            try
            {
                while (true)
                {
                    Volatile.Write(ref _waiting, 1);
                    Interlocked.MemoryBarrier();
                    if (!IsClosed())
                    {
                        break;
                    }

                    await _acked.WaitAsync(cancellationToken);
                }
            }
            finally
            {
                Volatile.Write(ref _waiting, 0);
            }
        }

        var packet = await inner.ReceivePacketAsync(cancellationToken);
        if (packet is MqttPublishPacket { QualityOfServiceLevel: not MqttQualityOfServiceLevel.AtMostOnce } publish)
        {
            var bytes = (int)Math.Min(publish.Payload.Length, int.MaxValue - 1);
            // An identifier still outstanding (a broker that reuses one before its acknowledgement): the newer delivery
            // replaces it, so that nothing leaks and closes the gate for good.
            var previous = Interlocked.Exchange(ref _outstanding[publish.PacketIdentifier], bytes + 1);
            Interlocked.Add(ref _unacknowledgedBytes, previous == 0 ? bytes : bytes - (previous - 1));
            if (previous == 0)
            {
                Interlocked.Increment(ref _unacknowledged);
            }
        }

        return packet;
    }

    public async Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken)
    {
        var id = packet switch
        {
            MqttPubAckPacket ack => (int)ack.PacketIdentifier,
            MqttPubRecPacket rec => rec.PacketIdentifier,
            _ => -1,
        };

        // Taken before the write: once the broker reads it, it may send a new delivery under the same identifier, and
        // that one must not be the one freed here.
        var taken = id < 0 ? 0 : Interlocked.Exchange(ref _outstanding[id], 0);
        try
        {
            await inner.SendPacketAsync(packet, cancellationToken);
        }
        finally
        {
            if (taken != 0)
            {
                // Counted once written (or failed, when the connection is going anyway): the broker frees the place
                // when it reads it.
                Interlocked.Add(ref _unacknowledgedBytes, -(taken - 1));
                Interlocked.Decrement(ref _unacknowledged);
                // The reader says it waits before it looks again, so either it sees these counts or this sees it waiting.
                if (Volatile.Read(ref _waiting) == 1 && !IsClosed() && Interlocked.Exchange(ref _waiting, 0) == 1)
                {
                    _acked.Release();
                }
            }
        }
    }

    private bool IsClosed() => Volatile.Read(ref _unacknowledged) > window || Interlocked.Read(ref _unacknowledgedBytes) > windowBytes;

    public void ResetStatistics() => inner.ResetStatistics();

    public void Dispose() => inner.Dispose();
}
