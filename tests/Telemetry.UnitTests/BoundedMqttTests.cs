using System.Net;
using System.Net.Sockets;
using MQTTnet;
using MQTTnet.Formatter;
using Telemetry.Ingest.Mqtt;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// A broker that accepts the TCP connection and then says nothing (or stops answering) must not hold the service's
/// connection loops: MQTTnet applies its own timeout only to calls whose token cannot be cancelled, and the loops pass
/// their stopping token. Each call here is given 10 s by the test; the bound under test is half a second.
/// </summary>
public sealed class BoundedMqttTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task ABrokerThatNeverAnswersConnect_FailsTheConnectInTime_NamingWhatItWaitedFor()
    {
        using var broker = new SilentBroker(answerConnect: false);
        using var client = new MqttClientFactory().CreateMqttClient();
        using var stopping = new CancellationTokenSource();

        var connecting = BoundedMqtt.ConnectAsync(client, broker.Options(Bound), stopping.Token);

        Assert.Same(connecting, await Task.WhenAny(connecting, Task.Delay(TimeSpan.FromSeconds(10))));
        var error = await Assert.ThrowsAsync<TimeoutException>(() => connecting);
        Assert.Contains("did not answer CONNECT", error.Message, StringComparison.Ordinal);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task ABrokerThatStopsAnsweringPings_IsReportedNotConnected_InTime()
    {
        using var broker = new SilentBroker(answerConnect: true);
        using var client = new MqttClientFactory().CreateMqttClient();
        using var stopping = new CancellationTokenSource();
        await BoundedMqtt.ConnectAsync(client, broker.Options(Bound), stopping.Token);

        var pinging = BoundedMqtt.TryPingAsync(client, stopping.Token);

        Assert.False(await pinging.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task AClientWhosePingWentUnanswered_ConnectsAgainOnceDisconnected()
    {
        // MQTTnet still counts such a client connected and refuses CONNECT ("not allowed to connect with a server after
        // the connection is established"): a connection loop that went straight to CONNECT failed that way for good,
        // and the subscriber's deliveries, numbered for a connection that never came, were never acknowledged.
        using var broker = new SilentBroker(answerConnect: true);
        using var client = new MqttClientFactory().CreateMqttClient();
        using var stopping = new CancellationTokenSource();
        var options = broker.Options(Bound);
        await BoundedMqtt.ConnectAsync(client, options, stopping.Token);
        Assert.False(await BoundedMqtt.TryPingAsync(client, stopping.Token).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(client.IsConnected);
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.ConnectAsync(options, stopping.Token));

        await BoundedMqtt.DisconnectAsync(client, stopping.Token).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(client.IsConnected);
        await BoundedMqtt.ConnectAsync(client, options, stopping.Token).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(client.IsConnected);
        Assert.Equal(2, broker.Accepted);
    }

    [Fact]
    public async Task Stopping_StillCancels_ARequestInFlight()
    {
        using var broker = new SilentBroker(answerConnect: false);
        using var client = new MqttClientFactory().CreateMqttClient();
        using var stopping = new CancellationTokenSource();

        var connecting = BoundedMqtt.ConnectAsync(client, broker.Options(TimeSpan.FromMinutes(5)), stopping.Token);
        await stopping.CancelAsync();

        // Whatever MQTTnet calls it, the call ends now, and it is not reported as the broker's timeout.
        var error = await Record.ExceptionAsync(() => connecting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.NotNull(error);
        Assert.IsNotType<TimeoutException>(error);
    }

    /// <summary>Accepts connections; answers the first CONNECT with a CONNACK when asked to, and then nothing more.</summary>
    private sealed class SilentBroker : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<TcpClient> _accepted = [];
        private readonly CancellationTokenSource _stop = new();

        public SilentBroker(bool answerConnect)
        {
            _listener.Start();
            _ = AcceptAsync(answerConnect);
        }

        public int Accepted
        {
            get
            {
                lock (_accepted)
                {
                    return _accepted.Count;
                }
            }
        }

        public MqttClientOptions Options(TimeSpan timeout) => new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", ((IPEndPoint)_listener.LocalEndpoint).Port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId("bounded-test")
            .WithTimeout(timeout)
            .WithKeepAlivePeriod(TimeSpan.FromMinutes(5))
            .Build();

        private async Task AcceptAsync(bool answerConnect)
        {
            try
            {
                while (true)
                {
                    var connection = await _listener.AcceptTcpClientAsync(_stop.Token);
                    lock (_accepted)
                    {
                        _accepted.Add(connection);
                    }

                    if (answerConnect)
                    {
                        var stream = connection.GetStream();
                        var buffer = new byte[1024];
                        _ = await stream.ReadAsync(buffer, _stop.Token);
                        // CONNACK (MQTT 5): no session present, success, no properties.
                        await stream.WriteAsync(new byte[] { 0x20, 0x03, 0x00, 0x00, 0x00 }, _stop.Token);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            lock (_accepted)
            {
                _accepted.ForEach(c => c.Dispose());
            }

            _stop.Dispose();
        }
    }
}
