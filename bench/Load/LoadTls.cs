using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using Telemetry.Ingest.Mqtt;

namespace Telemetry.Bench.Load;

/// <summary>TLS as the service's own client does it: <c>--ca FILE</c> is the only trusted root when given.</summary>
internal static class LoadTls
{
    public static MqttClientTlsOptions Options(LoadOptions options)
    {
        var tls = new MqttClientTlsOptionsBuilder().UseTls().WithTargetHost(options.Host);
        if (options.CaFile is not null)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(options.CaFile);
            tls = tls.WithCertificateValidationHandler(e => MqttClientOptionsFactory.IsTrusted(e, roots));
        }

        return tls.Build();
    }
}
