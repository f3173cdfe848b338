using System.Threading.Channels;
using MQTTnet;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Diagnostics.PacketInspection;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Mqtt;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// The subscriber keeps its Receive Maximum even when the broker does not. With the shipped Mosquitto (2.0.11
/// here), a persistent session holding a backlog, and a consumer that acknowledges each delivery a little after it
/// arrives (as the pipeline does), the broker sends the whole backlog as soon as acknowledgements flow; MQTTnet
/// would queue it all in memory. Counted on the wire by MQTTnet's packet inspector: PUBLISH packets read minus
/// PUBACKs written never exceeds the window by more than the one packet that shows the breach, and every message
/// still arrives and is acknowledged once.
/// </summary>
public sealed class ReceiveWindowTests
{
    private const int Window = 50;
    private const int Backlog = 2_000;

    [Fact]
    public async Task ABacklog_IsReadNoFasterThanTheWindow_AndAllOfItArrives()
    {
        await using var mosquitto = new MosquittoServer(ProductionServers.Secret, ["window-1"]);
        await mosquitto.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var cancel = timeout.Token;
        var exceeded = 0;
        using var subscriber = new MqttClientFactory(new MqttNetNullLogger(), new ReceiveWindowAdapterFactory(exceeded: () => Interlocked.Increment(ref exceeded))).CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", mosquitto.ServicePort)
            .WithCredentials(MosquittoServer.ServiceUser, MosquittoServer.ServicePassword)
            .WithClientId("telemetry-window-test")
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(600)
            .Build();
        options.ReceiveMaximum = Window;

        // The session exists before the backlog, so the broker queues all of it.
        await subscriber.ConnectAsync(options, cancel);
        await subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(f => f.WithTopic("devices/+/telemetry").WithAtLeastOnceQoS()).Build(), cancel);
        await subscriber.DisconnectAsync(cancellationToken: cancel);

        using (var device = new MqttClientFactory().CreateMqttClient())
        {
            await device.ConnectAsync(new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", mosquitto.Port)
                .WithCredentials("window-1", DeviceCredentials.Token("window-1", ProductionServers.Secret))
                .WithClientId("window-1")
                .WithProtocolVersion(MqttProtocolVersion.V500)
                .Build(), cancel);
            for (var i = 0; i < Backlog; i++)
            {
                var result = await device.PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic("devices/window-1/telemetry")
                    .WithPayload(BitConverter.GetBytes(i).Concat(new byte[2_900]).ToArray())
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build(), cancel);
                Assert.True(result.IsSuccess, result.ReasonString);
            }
        }

        // On the wire: PUBLISH read against PUBACK written, the most ever unacknowledged.
        long publishes = 0, pubacks = 0, most = 0;
        subscriber.InspectPacketAsync += e =>
        {
            var type = e.Buffer[0] >> 4;
            if (e.Direction == MqttPacketFlowDirection.Inbound && type == 3)
            {
                var open = Interlocked.Increment(ref publishes) - Interlocked.Read(ref pubacks);
                Atomic.Max(ref most, open);
            }
            else if (e.Direction == MqttPacketFlowDirection.Outbound && type == 4)
            {
                Interlocked.Increment(ref pubacks);
            }

            return Task.CompletedTask;
        };

        // Acknowledged a moment after arrival, from a queue, as the pipeline does.
        var deliveries = Channel.CreateUnbounded<MqttApplicationMessageReceivedEventArgs>();
        var seen = new bool[Backlog];
        var duplicates = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            e.AutoAcknowledge = false;
            return deliveries.Writer.WriteAsync(e, cancel).AsTask();
        };
        var acknowledged = 0;
        var acker = Task.Run(async () =>
        {
            await foreach (var e in deliveries.Reader.ReadAllAsync(cancel))
            {
                var index = BitConverter.ToInt32(e.ApplicationMessage.Payload.FirstSpan[..4]);
                if (seen[index])
                {
                    duplicates++;
                }

                seen[index] = true;
                Thread.SpinWait(20_000);
                await e.AcknowledgeAsync(cancel);
                if (++acknowledged == Backlog)
                {
                    done.SetResult();
                }
            }
        }, cancel);

        await subscriber.ConnectAsync(options, cancel);
        await done.Task.WaitAsync(TimeSpan.FromSeconds(120), cancel);
        deliveries.Writer.Complete();
        await acker;

        Assert.All(seen, Assert.True);
        Assert.Equal(0, duplicates);
        Assert.True(Interlocked.Read(ref most) <= Window + 1, $"{most} deliveries were unacknowledged at once (window {Window})");
        // The broker did break the window here (Mosquitto 2.0.11); if a later broker keeps to it, this says so.
        Assert.True(exceeded > 0, "the broker never sent past the window: the adapter was not exercised");
    }
}
