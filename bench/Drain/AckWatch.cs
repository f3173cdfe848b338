using System.Buffers;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Telemetry.Bench.Drain;

/// <summary>
/// Listens to every device's application acks (<c>devices/+/ack</c>) and completes when each device's ack covers
/// its last message of the phase's boot: everything stored and applied to its twin, by the service's own word.
/// </summary>
internal sealed class AckWatch : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly string _boot;
    private readonly long _lastSeq;
    private readonly Dictionary<string, long> _acked = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _devices;
    private int _done;

    private AckWatch(string boot, int devices, long lastSeq)
    {
        _boot = boot;
        _devices = devices;
        _lastSeq = lastSeq;
        _client.ApplicationMessageReceivedAsync += e =>
        {
            Observe(e.ApplicationMessage.Topic, e.ApplicationMessage.Payload.ToArray());
            return Task.CompletedTask;
        };
    }

    /// <summary>All devices fully acked.</summary>
    public Task Complete => _complete.Task;

    public static async Task<AckWatch> StartAsync(int port, string boot, int devices, long lastSeq, CancellationToken cancellationToken)
    {
        var watch = new AckWatch(boot, devices, lastSeq);
        await watch._client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId($"drain-acks-{Guid.NewGuid():N}")
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .Build().WithSocketBuffers(), cancellationToken);
        await watch._client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("devices/+/ack", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build(), cancellationToken);
        return watch;
    }

    public int DevicesDone => Volatile.Read(ref _done);

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }

        _client.Dispose();
    }

    private void Observe(string topic, byte[] payload)
    {
        using var ack = JsonDocument.Parse(payload);
        if (ack.RootElement.GetProperty("boot").GetString() != _boot)
        {
            return;
        }

        var seq = ack.RootElement.GetProperty("seq").GetInt64();
        lock (_acked)
        {
            var before = _acked.GetValueOrDefault(topic, -1);
            if (seq <= before)
            {
                return;
            }

            _acked[topic] = seq;
            if (seq >= _lastSeq && before < _lastSeq && ++_done == _devices)
            {
                _complete.TrySetResult();
            }
        }
    }
}
