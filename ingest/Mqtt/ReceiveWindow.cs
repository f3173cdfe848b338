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
/// Keeps the subscriber's Receive Maximum on the client side. MQTT 5 lets a client name how many QoS 1 and 2
/// deliveries may be unacknowledged at once, and the service's memory bound rests on it: MQTTnet queues every PUBLISH
/// it reads ahead of the application, without limit. Mosquitto 2.0.11 keeps to the window only until acknowledgements
/// start to flow; then it sends a session's whole backlog (docs/performance.md, "The broker's window does not hold").
/// This adapter counts QoS&gt;0 PUBLISH packets read and PUBACK/PUBREC packets sent on its connection, and stops
/// reading the socket while the count is above the window, so that TCP holds the broker back. A broker that keeps
/// to the window never trips it. While it is tripped, nothing else is read either (a PINGRESP waits too), which is
/// why it only acts on a broker that has already broken the protocol.
/// </summary>
internal sealed class ReceiveWindowAdapterFactory(Action? exceeded = null) : IMqttClientAdapterFactory
{
    private readonly MqttClientAdapterFactory _inner = new();

    public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        var adapter = _inner.CreateClientAdapter(options, packetInspector, logger);
        // 0 means "not sent": the protocol's default of 65,535 applies.
        return new ReceiveWindowAdapter(adapter, options.ReceiveMaximum == 0 ? ushort.MaxValue : options.ReceiveMaximum, exceeded);
    }
}

/// <summary>One connection's adapter with the window kept (see <see cref="ReceiveWindowAdapterFactory"/>);
/// <paramref name="exceeded"/> is told each time the broker goes past the window and reading stops.</summary>
internal sealed class ReceiveWindowAdapter(IMqttChannelAdapter inner, int window, Action? exceeded = null) : IMqttChannelAdapter
{
    private readonly SemaphoreSlim _acked = new(0);
    private int _unacknowledged;

    /// <summary>QoS&gt;0 deliveries read on this connection and not yet acknowledged (PUBACK) or received (PUBREC).</summary>
    public int Unacknowledged => Volatile.Read(ref _unacknowledged);

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
        // next waits for an acknowledgement.
        if (Volatile.Read(ref _unacknowledged) > window)
        {
            exceeded?.Invoke();
            while (Volatile.Read(ref _unacknowledged) > window)
            {
                await _acked.WaitAsync(cancellationToken);
            }
        }

        var packet = await inner.ReceivePacketAsync(cancellationToken);
        if (packet is MqttPublishPacket { QualityOfServiceLevel: not MqttQualityOfServiceLevel.AtMostOnce })
        {
            Interlocked.Increment(ref _unacknowledged);
        }

        return packet;
    }

    public async Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken)
    {
        await inner.SendPacketAsync(packet, cancellationToken);
        if (packet is MqttPubAckPacket or MqttPubRecPacket)
        {
            // Counted once written: the broker frees the place when it reads it. The reader waits only above the
            // window, so only the step down to it wakes it (the semaphore's count stays small).
            if (Interlocked.Decrement(ref _unacknowledged) == window)
            {
                _acked.Release();
            }
        }
    }

    public void ResetStatistics() => inner.ResetStatistics();

    public void Dispose()
    {
        inner.Dispose();
        _acked.Dispose();
    }
}
