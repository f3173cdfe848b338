using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Telemetry.Bench.Load;

namespace Telemetry.Bench.Drain;

/// <summary>
/// Queues a backlog in the broker: retained births, then every device's telemetry (the load tool's deterministic
/// payloads) at QoS 1 from a few anonymous connections, each with many publishes in flight. Every persistent
/// session subscribed to <c>devices/+/telemetry</c> keeps its own copy until its subscriber drains it.
/// </summary>
internal static class Backlog
{
    private const int Connections = 4;
    private const int InFlightPerConnection = 256;

    public static async Task PublishBirthsAsync(int port, LoadOptions load, CancellationToken cancellationToken)
    {
        var birth = LoadPayloads.Birth();
        await PublishAsync(port, Enumerable.Range(0, load.Devices).Select(d => new MqttApplicationMessageBuilder()
            .WithTopic($"devices/{load.DeviceId(d)}/birth")
            .WithPayload(birth)
            .WithRetainFlag()
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build()), cancellationToken);
    }

    /// <summary>Seq-major order: every device's message 0, then every device's message 1, as a live fleet sends.</summary>
    public static async Task PublishTelemetryAsync(int port, LoadOptions load, CancellationToken cancellationToken)
    {
        var messages = Enumerable.Range(0, load.Messages)
            .SelectMany(seq => Enumerable.Range(0, load.Devices).Select(d => (d, seq)))
            .Select(m => new MqttApplicationMessageBuilder()
                .WithTopic($"devices/{load.DeviceId(m.d)}/telemetry")
                .WithPayload(LoadPayloads.Telemetry(load, m.d, (uint)m.seq))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build());
        await PublishAsync(port, messages, cancellationToken);
    }

    private static async Task PublishAsync(int port, IEnumerable<MqttApplicationMessage> messages, CancellationToken cancellationToken)
    {
        var factory = new MqttClientFactory();
        var clients = new List<IMqttClient>();
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                var client = factory.CreateMqttClient();
                clients.Add(client);
                await client.ConnectAsync(new MqttClientOptionsBuilder()
                    .WithTcpServer("127.0.0.1", port)
                    .WithClientId($"drain-publisher-{i}-{Guid.NewGuid():N}")
                    .WithProtocolVersion(MqttProtocolVersion.V500)
                    .WithTimeout(TimeSpan.FromSeconds(30))
                    .Build().WithSocketBuffers(), cancellationToken);
            }

            using var gate = new SemaphoreSlim(Connections * InFlightPerConnection);
            var pending = new List<Task>();
            var n = 0;
            foreach (var message in messages)
            {
                await gate.WaitAsync(cancellationToken);
                var client = clients[n++ % Connections];
                pending.Add(PublishOneAsync(client, message, gate, cancellationToken));
                if (pending.Count >= 4096)
                {
                    pending.RemoveAll(t => t.IsCompletedSuccessfully);
                }
            }

            await Task.WhenAll(pending);
        }
        finally
        {
            foreach (var client in clients)
            {
                if (client.IsConnected)
                {
                    await client.DisconnectAsync(cancellationToken: CancellationToken.None);
                }

                client.Dispose();
            }
        }
    }

    private static async Task PublishOneAsync(IMqttClient client, MqttApplicationMessage message, SemaphoreSlim gate, CancellationToken cancellationToken)
    {
        try
        {
            var result = await client.PublishAsync(message, cancellationToken);
            if (!result.IsSuccess)
            {
                throw new InvalidOperationException($"the broker refused {message.Topic}: {result.ReasonCode}");
            }
        }
        finally
        {
            gate.Release();
        }
    }
}
