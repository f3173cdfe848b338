using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// The service reaches an external Mosquitto over TLS with a client certificate (Broker:UseTls, CaFile,
/// ClientCertificateFile, ClientKeyFile) on a TLS copy of the service listener. Certificates are made by the
/// test; devices use the plain device listener.
/// </summary>
public sealed class TlsTests : IAsyncLifetime
{
    private const string Secret = "tls-test-secret";
    private readonly string _certs = Directory.CreateTempSubdirectory("telemetry-certs-").FullName;
    private readonly int _tlsPort = ServerProcess.FreePort();
    private MosquittoServer _mosquitto = null!;

    public async Task InitializeAsync()
    {
        var (caCert, caKey) = WriteCertificates();
        // The shipped service listener again, over TLS with client certificates (per_listener_settings:
        // a listener has only the accounts and ACL it names).
        _mosquitto = new MosquittoServer(Secret, ["tls-shoe-1"], server => $"""
            listener {_tlsPort} 127.0.0.1
            allow_anonymous false
            password_file {server.Directory}/passwd-service
            acl_file {server.Directory}/acl-service
            cafile {caCert}
            certfile {_certs}/server.pem
            keyfile {_certs}/server.key
            require_certificate true
            """);
        _ = caKey;
        await _mosquitto.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _mosquitto.DisposeAsync();
        Directory.Delete(_certs, recursive: true);
    }

    [Fact]
    public async Task ServiceConnectsOverTlsWithItsCertificate_AndDevicesAreAcked()
    {
        await using var service = new ServiceProcess(
            "--Broker:Mode", "External",
            "--Broker:Host", "127.0.0.1",
            "--Broker:Port", _tlsPort.ToString(CultureInfo.InvariantCulture),
            "--Broker:UseTls", "true",
            "--Broker:CaFile", Path.Combine(_certs, "ca.pem"),
            "--Broker:ClientCertificateFile", Path.Combine(_certs, "client.pem"),
            "--Broker:ClientKeyFile", Path.Combine(_certs, "client.key"),
            "--Broker:Username", MosquittoServer.ServiceUser,
            "--Broker:Password", MosquittoServer.ServicePassword);
        // Ready means /health is 200, which needs both of the service's MQTT connections up (over TLS).
        await service.StartAsync();

        await using var device = new Firmware("tls-shoe-1", _mosquitto.Port, Secret);
        await device.ConnectAsync();
        await device.SendNextAsync(DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeMilliseconds());
        await device.WaitAllAckedAsync(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));

        using var twin = await service.Http.GetAsync(new Uri("api/devices/tls-shoe-1", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, twin.StatusCode);
    }

    [Fact]
    public async Task ServiceThatDoesNotTrustTheBrokersCa_NeverConnects()
    {
        using var otherCa = CreateCa("Somebody Else");
        var otherCaFile = Path.Combine(_certs, "other-ca.pem");
        await File.WriteAllTextAsync(otherCaFile, otherCa.ExportCertificatePem());
        await using var service = new ServiceProcess(
            "--Broker:Mode", "External",
            "--Broker:Host", "127.0.0.1",
            "--Broker:Port", _tlsPort.ToString(CultureInfo.InvariantCulture),
            "--Broker:UseTls", "true",
            "--Broker:CaFile", otherCaFile,
            "--Broker:ClientCertificateFile", Path.Combine(_certs, "client.pem"),
            "--Broker:ClientKeyFile", Path.Combine(_certs, "client.key"),
            "--Broker:Username", MosquittoServer.ServiceUser,
            "--Broker:Password", MosquittoServer.ServicePassword);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => service.StartAsync(TimeSpan.FromSeconds(8)));
        Assert.Contains("did not become ready", error.Message, StringComparison.Ordinal);
    }

    private (string CaCert, string CaKey) WriteCertificates()
    {
        using var ca = CreateCa("Telemetry Test CA");
        File.WriteAllText(Path.Combine(_certs, "ca.pem"), ca.ExportCertificatePem());
        Issue(ca, "server", "CN=127.0.0.1", server: true);
        Issue(ca, "client", "CN=telemetry-service", server: false);
        return (Path.Combine(_certs, "ca.pem"), string.Empty);
    }

    private static X509Certificate2 CreateCa(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private void Issue(X509Certificate2 ca, string name, string subject, bool server)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
        }

        var serial = new byte[8];
        RandomNumberGenerator.Fill(serial);
        using var certificate = request.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(7), serial);
        File.WriteAllText(Path.Combine(_certs, $"{name}.pem"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_certs, $"{name}.key"), key.ExportPkcs8PrivateKeyPem());
    }
}
