using Microsoft.Extensions.Options;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
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
            .WithTimeout(settings.ResponseTimeout);
        if (persistentSession)
        {
            // A persistent session keeps the subscription and queues QoS 1 messages while the service is away.
            builder = builder.WithCleanStart(false).WithSessionExpiryInterval((uint)settings.SessionExpiry.TotalSeconds);
        }

        if (settings.UseTls)
        {
            builder = builder.WithTlsOptions(Tls(settings));
        }

        if (!string.IsNullOrEmpty(secrets.ServiceUsername))
        {
            builder = builder.WithCredentials(secrets.ServiceUsername, secrets.ServicePassword);
        }

        var built = builder.Build();
        if (built.ChannelOptions is MqttClientTcpOptions tcp)
        {
            // MQTTnet sets the socket's buffers to its BufferSize, 8 KiB by default, which also turns off TCP
            // window scaling and autotuning. Under a sustained flow of 3 KB messages such a connection can fall
            // into a receive window of a few KB reopened only by the sender's zero-window probes, about every
            // 200 ms: about 30 KB/s, ten messages a second, while the broker's backlog grows
            // (docs/reliability.md, "A broker that stops delivering").
            tcp.BufferSize = settings.SocketBufferBytes;
        }

        return built;
    }

    /// <summary>TLS to the broker: its certificate checked against <c>Broker:CaFile</c> (or the system roots)
    /// and its name, and the service's own certificate presented when configured.</summary>
    private static MqttClientTlsOptions Tls(BrokerOptions settings)
    {
        var tls = new MqttClientTlsOptionsBuilder()
            .UseTls()
            .WithSslProtocols(System.Security.Authentication.SslProtocols.None)
            .WithTargetHost(settings.TlsServerName.Length > 0 ? settings.TlsServerName : settings.Host);
        if (settings.CaFile.Length > 0)
        {
            // A PEM bundle: one CA or several.
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(settings.CaFile);
            tls = tls.WithCertificateValidationHandler(e => IsTrusted(e, roots));
        }

        if (settings.ClientCertificateFile.Length > 0)
        {
            var certificate = X509Certificate2.CreateFromPemFile(settings.ClientCertificateFile, settings.ClientKeyFile.Length > 0 ? settings.ClientKeyFile : null);
            tls = tls.WithClientCertificates([certificate]);
        }

        return tls.Build();
    }

    /// <summary>The broker's certificate names it and chains to one of <paramref name="roots"/> (and only those).</summary>
    internal static bool IsTrusted(MqttClientCertificateValidationEventArgs e, X509Certificate2Collection roots)
    {
        if ((e.SslPolicyErrors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 || e.Certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(e.Certificate));
    }
}
