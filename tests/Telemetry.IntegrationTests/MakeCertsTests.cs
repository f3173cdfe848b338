using System.Net;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// deploy/mosquitto/make-certs.sh, run into a temporary directory: what it issues and that a second run keeps
/// the CA. That Mosquitto serves its output to a TLS device is MosquittoIdentityTests.DeviceOverTls_….
/// </summary>
public sealed class MakeCertsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("telemetry-make-certs-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    [UnsupportedOSPlatform("windows")] // a bash script, like every server these tests start
    public void MakeCerts_IssuesAServerCertificateForEveryNameGiven_AndAClientCertificate_SignedByItsCa()
    {
        MosquittoServer.MakeCerts(_directory, "-c", "telemetry-service", "mqtt.example.test", "broker.internal", "192.0.2.10", "::1");

        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path("ca.pem")));
        using var server = X509Certificate2.CreateFromPemFile(Path("server.pem"), Path("server.key"));
        using var client = X509Certificate2.CreateFromPemFile(Path("client.pem"), Path("client.key"));
        var names = server.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["mqtt.example.test", "broker.internal"], names.EnumerateDnsNames());
        Assert.Equal([IPAddress.Parse("192.0.2.10"), IPAddress.IPv6Loopback], names.EnumerateIPAddresses());
        Assert.Equal("CN=mqtt.example.test", server.Subject);
        Assert.Equal("1.3.6.1.5.5.7.3.1", Usage(server)); // serverAuth
        Assert.Equal("CN=telemetry-service", client.Subject);
        Assert.Equal("1.3.6.1.5.5.7.3.2", Usage(client)); // clientAuth
        Assert.True(ChainsTo(ca, server), "server.pem does not chain to ca.pem");
        Assert.True(ChainsTo(ca, client), "client.pem does not chain to ca.pem");
        Assert.True(ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        foreach (var key in new[] { "ca.key", "server.key", "client.key" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path(key)));
        }
    }

    [Fact]
    public void MakeCerts_RunAgain_RenewsTheServerCertificate_UnderTheSameCa()
    {
        MosquittoServer.MakeCerts(_directory, "localhost");
        var ca = File.ReadAllText(Path("ca.pem"));
        var first = File.ReadAllText(Path("server.pem"));

        var output = MosquittoServer.MakeCerts(_directory, "localhost", "mqtt.example.test");

        // Devices keep trusting the CA flashed into them; only the server's certificate changed.
        Assert.DoesNotContain("new CA", output, StringComparison.Ordinal);
        Assert.Equal(ca, File.ReadAllText(Path("ca.pem")));
        Assert.NotEqual(first, File.ReadAllText(Path("server.pem")));
        using var caCertificate = X509Certificate2.CreateFromPem(ca);
        using var renewed = X509Certificate2.CreateFromPem(File.ReadAllText(Path("server.pem")));
        Assert.True(ChainsTo(caCertificate, renewed), "the renewed server.pem does not chain to the kept ca.pem");
    }

    private string Path(string file) => System.IO.Path.Combine(_directory, file);

    private static string? Usage(X509Certificate2 certificate) =>
        Assert.Single(certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>()).Value;

    private static bool ChainsTo(X509Certificate2 ca, X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
