using System.Security.Cryptography.X509Certificates;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Server;
using MQTTnet.Server.Internal.Adapter;

namespace Telemetry.Ingest.Broker;

/// <summary>
/// The embedded broker's TCP listener, with one fix to MQTTnet's handling of CONNECT: an MQTT 3.1.1 client
/// that sends an empty client id with a clean session gets an id assigned, as MQTT 3.1.1 §3.1.3.1 allows and
/// as Mosquitto does. MQTTnet 5.2 refuses such clients ("identifier rejected") before any server event can
/// step in, and <c>mosquitto_sub</c> connects that way by default. MQTT 5 clients are handled by the broker's
/// own <c>AssignedClientIdentifier</c>; a 3.1.1 client asking for a persistent session without an id is
/// still refused, as the specification requires.
/// </summary>
internal sealed class ClientIdAssigningAdapter : IMqttServerAdapter, IDisposable
{
    private readonly MqttTcpServerAdapter _tcp = new();

    /// <summary>Ids this adapter assigned whose CONNECT the broker has not validated yet.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _assigned = new(StringComparer.Ordinal);

    public Func<IMqttChannelAdapter, Task>? ClientHandler
    {
        get => _tcp.ClientHandler;
        set => _tcp.ClientHandler = value is null ? null : channel => value(new Channel(channel, this));
    }

    /// <summary>
    /// True once for an id this adapter assigned to a CONNECT (which then reaches validation with it), so the
    /// broker can tell an assigned id from one a client chose: only the latter must belong to the client.
    /// </summary>
    public bool TakeAssigned(string clientId) => _assigned.TryRemove(clientId, out _);

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger) => _tcp.StartAsync(options, logger);

    public Task StopAsync() => _tcp.StopAsync();

    public void Dispose() => _tcp.Dispose();

    /// <summary>The id given to a client that asked the broker for one. The dot keeps it out of the device-id
    /// namespace, so it can never take over a device's session.</summary>
    internal static string NewClientId() => $"auto.{Guid.NewGuid():N}";

    /// <summary>Passes everything through; only the first packet, CONNECT, may get a client id.</summary>
    private sealed class Channel(IMqttChannelAdapter inner, ClientIdAssigningAdapter owner) : IMqttChannelAdapter
    {
        private bool _connectSeen;

        public long BytesReceived => inner.BytesReceived;

        public long BytesSent => inner.BytesSent;

        public X509Certificate2 ClientCertificate => inner.ClientCertificate;

        public System.Net.EndPoint RemoteEndPoint => inner.RemoteEndPoint;

        public System.Net.EndPoint LocalEndPoint => inner.LocalEndPoint;

        public bool IsSecureConnection => inner.IsSecureConnection;

        public MqttPacketFormatterAdapter PacketFormatterAdapter => inner.PacketFormatterAdapter;

        public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

        public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

        public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
        {
            var packet = await inner.ReceivePacketAsync(cancellationToken).ConfigureAwait(false);
            if (!_connectSeen && packet is MqttConnectPacket connect)
            {
                _connectSeen = true;
                if (string.IsNullOrEmpty(connect.ClientId)
                    && connect.CleanSession
                    && inner.PacketFormatterAdapter.ProtocolVersion is MqttProtocolVersion.V311 or MqttProtocolVersion.V310)
                {
                    connect.ClientId = NewClientId();
                    owner._assigned[connect.ClientId] = 0;
                }
            }

            return packet;
        }

        public void ResetStatistics() => inner.ResetStatistics();

        public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken) => inner.SendPacketAsync(packet, cancellationToken);

        public void Dispose() => inner.Dispose();
    }
}
