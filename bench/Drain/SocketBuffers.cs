using MQTTnet;

namespace Telemetry.Bench.Drain;

internal static class SocketBuffers
{
    /// <summary>
    /// 1 MiB socket buffers instead of MQTTnet's 8 KiB, as the service uses (Broker:SocketBufferBytes): with 8 KiB a
    /// connection carrying a sustained flow can crawl at about 30 KB/s (docs/reliability.md), and the drain's
    /// publishers and ack listener must not be what limits the measurement.
    /// </summary>
    public static MqttClientOptions WithSocketBuffers(this MqttClientOptions options)
    {
        if (options.ChannelOptions is MqttClientTcpOptions tcp)
        {
            tcp.BufferSize = 1024 * 1024;
        }

        return options;
    }
}
