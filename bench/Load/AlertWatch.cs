using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Telemetry.Bench.Load;

/// <summary>
/// Times reading-to-alert for <c>--faulty</c> devices: one client subscribed to <c>alerts/+</c> notes when each
/// device's first raised alert arrives. Devices' own credentials may not read other devices' alerts, so it connects
/// anonymously or with <c>--username</c>, as a read-only consumer would.
/// </summary>
internal sealed class AlertWatch : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly LoadCounters _counters;
    private readonly TimeProvider _time;

    private AlertWatch(LoadCounters counters, TimeProvider time)
    {
        _counters = counters;
        _time = time;
        _client.ApplicationMessageReceivedAsync += e =>
        {
            Observe(e.ApplicationMessage.Topic, e.ApplicationMessage.Payload);
            return Task.CompletedTask;
        };
    }

    public static async Task<AlertWatch> StartAsync(LoadOptions options, LoadCounters counters, TimeProvider time, CancellationToken cancellationToken)
    {
        var watch = new AlertWatch(counters, time);
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(options.Host, options.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart();
        if (options.Username is { } user)
        {
            builder = builder.WithClientId($"{user}.load-alerts").WithCredentials(user, Encoding.UTF8.GetBytes(options.Password ?? string.Empty));
        }

        if (options.Tls)
        {
            builder = builder.WithTlsOptions(LoadTls.Options(options));
        }

        await watch._client.ConnectAsync(builder.Build(), cancellationToken);
        var granted = await watch._client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("alerts/+", MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken);
        if (granted.Items.Any(i => i.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2))
        {
            throw new InvalidOperationException($"the broker refused the alerts/+ subscription ({granted.Items.First().ResultCode})");
        }

        return watch;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }

        _client.Dispose();
    }

    private void Observe(string topic, System.Buffers.ReadOnlySequence<byte> payload)
    {
        var now = _time.GetTimestamp();
        try
        {
            var reader = new Utf8JsonReader(payload);
            using var alert = JsonDocument.ParseValue(ref reader);
            if (alert.RootElement.TryGetProperty("state", out var state) && state.GetString() == "raised")
            {
                _counters.AlertRaised(topic["alerts/".Length..], now);
            }
        }
        catch (JsonException)
        {
            // Not an alert event: ignored.
        }
    }
}
