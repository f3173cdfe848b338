using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using Telemetry.Ingest.Broker;

namespace Telemetry.Ingest.Mqtt;

/// <summary>Connection options for the service's own MQTT clients, from <see cref="BrokerOptions"/>.</summary>
internal sealed class MqttClientOptionsFactory(IOptions<BrokerOptions> options, BrokerSecrets secrets)
{
    public BrokerOptions Broker => options.Value;

    /// <summary>Options for a client of the service named <c>{prefix}-{role}</c>.</summary>
    public MqttClientOptions Create(string role, bool persistentSession)
    {
        var settings = options.Value;
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(settings.Host, settings.Port)
            .WithClientId($"{settings.ClientIdPrefix}-{role}")
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (persistentSession)
        {
            // A persistent session keeps the subscription and queues QoS 1 messages while the service is away.
            builder = builder.WithCleanStart(false).WithSessionExpiryInterval((uint)settings.SessionExpiry.TotalSeconds);
        }

        if (!string.IsNullOrEmpty(secrets.ServiceUsername))
        {
            builder = builder.WithCredentials(secrets.ServiceUsername, secrets.ServicePassword);
        }

        return builder.Build();
    }
}
