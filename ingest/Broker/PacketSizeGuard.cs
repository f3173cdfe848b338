using System.Net;
using System.Net.Sockets;

namespace Telemetry.Ingest.Broker;

/// <summary>
/// A TCP front for the embedded broker when it faces a network. MQTTnet allocates the length that a packet's
/// fixed header announces before the client has authenticated, so five bytes can cost 256 MiB. This front
/// reads each client packet's fixed header itself and closes the connection when the announced length is
/// over the limit (a small one for the first packet, CONNECT; <c>Broker:MaxPacketSize</c> after), then
/// streams the packet on to MQTTnet, which listens on a loopback port only. It never allocates per packet.
/// </summary>
internal sealed partial class PacketSizeGuard(IPEndPoint publicEndPoint, int brokerPort, int maxConnectBytes, int maxPacketBytes, ILogger logger)
    : IAsyncDisposable
{
    private readonly TcpListener _listener = new(publicEndPoint);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _accepting;

    private long _refused;

    /// <summary>Connections closed for announcing too large a packet.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public void Start()
    {
        _listener.Start();
        _accepting = AcceptAsync(_stopping.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        if (_accepting is not null)
        {
            await _accepting.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    private async Task AcceptAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client, cancellationToken), cancellationToken);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken cancellationToken)
    {
        using var owned = client;
        using var broker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await broker.ConnectAsync(new IPEndPoint(IPAddress.Loopback, brokerPort), cancellationToken);
            using var clientStream = new NetworkStream(client, ownsSocket: false);
            using var brokerStream = new NetworkStream(broker, ownsSocket: false);
            using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var upstream = ForwardPacketsAsync(clientStream, brokerStream, done.Token);
            var downstream = brokerStream.CopyToAsync(clientStream, 16 * 1024, done.Token);
            await Task.WhenAny(upstream, downstream);
            await done.CancelAsync();
            try
            {
                await Task.WhenAll(upstream, downstream);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
            {
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
        }
    }

    /// <summary>Client to broker, packet by packet: header checked, then the body streamed through.</summary>
    private async Task ForwardPacketsAsync(Stream from, Stream to, CancellationToken cancellationToken)
    {
        var header = new byte[5];
        var buffer = new byte[16 * 1024];
        var first = true;
        while (true)
        {
            if (await from.ReadAtLeastAsync(header.AsMemory(0, 1), 1, throwOnEndOfStream: false, cancellationToken) == 0)
            {
                return;
            }

            // Remaining length: at most four 7-bit groups (MQTT 3.1.1 §2.2.3, 5.0 §1.5.5).
            var length = 0;
            var used = 1;
            for (var multiplier = 1; ; multiplier *= 128)
            {
                if (used == 5 || await from.ReadAtLeastAsync(header.AsMemory(used, 1), 1, throwOnEndOfStream: false, cancellationToken) == 0)
                {
                    return;
                }

                var digit = header[used++];
                length += (digit & 0x7F) * multiplier;
                if ((digit & 0x80) == 0)
                {
                    break;
                }
            }

            var limit = first ? maxConnectBytes : maxPacketBytes;
            if (length > limit || (first && header[0] >> 4 != 1))
            {
                Interlocked.Increment(ref _refused);
                LogRefused(logger, length, limit, first);
                return;
            }

            first = false;
            await to.WriteAsync(header.AsMemory(0, used), cancellationToken);
            for (var left = length; left > 0;)
            {
                var read = await from.ReadAsync(buffer.AsMemory(0, Math.Min(buffer.Length, left)), cancellationToken);
                if (read == 0)
                {
                    return;
                }

                await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                left -= read;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Closed a connection announcing a {Length}-byte packet (limit {Limit}, first packet: {First})")]
    private static partial void LogRefused(ILogger logger, int length, int limit, bool first);
}
