using System.Diagnostics;
using System.Text.RegularExpressions;
using Telemetry.Ingest.Broker;

namespace Telemetry.IntegrationTests;

/// <summary>
/// Debian's Mosquitto 2.0 with the project's shipped files: deploy/mosquitto/mosquitto.conf with only its
/// ports and paths substituted, both ACL files as they are, certificates made by deploy/mosquitto/make-certs.sh,
/// and password files written by the service's credential code. The three listeners keep their roles:
/// <see cref="TlsPort"/> (8883) and <see cref="Port"/> (1883) for devices and consumers, <see cref="ServicePort"/>
/// (1884) for the service account only.
/// </summary>
public sealed class MosquittoServer : ServerProcess
{
    public const string ServiceUser = "telemetry-service";
    public const string ServicePassword = "service-password";
    public const string ReaderUser = "alerts-reader";
    public const string ReaderPassword = "reader-password";

    /// <param name="extraConfig">Appended to the shipped configuration (say, another listener); it receives
    /// this server so that it can name the files in <see cref="ServerProcess.Directory"/>.</param>
    public MosquittoServer(string deviceSecret, IEnumerable<string> devices, Func<MosquittoServer, string>? extraConfig = null)
        : base("mosquitto")
    {
        var shipped = Path.Combine(RepositoryRoot, "deploy", "mosquitto");
        File.Copy(Path.Combine(shipped, "acl"), Path.Combine(Directory, "acl"));
        File.Copy(Path.Combine(shipped, "acl-service"), Path.Combine(Directory, "acl-service"));
        File.WriteAllLines(Path.Combine(Directory, "passwd"),
        [
            DeviceCredentials.MosquittoPasswordLine(ReaderUser, ReaderPassword),
            .. devices.Select(d => DeviceCredentials.MosquittoPasswordLine(d, DeviceCredentials.Token(d, deviceSecret))),
        ]);
        File.WriteAllLines(Path.Combine(Directory, "passwd-service"), [DeviceCredentials.MosquittoPasswordLine(ServiceUser, ServicePassword)]);
        MakeCerts(CertificateDirectory, "localhost", "127.0.0.1");

        // Tests run as root, which Mosquitto would leave for the 'mosquitto' user before reading its files.
        var configuration = $"""
            user root
            log_dest stdout
            log_type error
            log_type warning

            """ + Substitute(File.ReadAllText(Path.Combine(shipped, "mosquitto.conf"))) + "\n" + extraConfig?.Invoke(this);
        File.WriteAllText(Path.Combine(Directory, "mosquitto.conf"), configuration);
    }

    /// <summary>The plain device listener (1883 in the shipped configuration).</summary>
    public int Port { get; } = FreePort();

    /// <summary>The TLS device listener (8883), with a server certificate for localhost and 127.0.0.1.</summary>
    public int TlsPort { get; } = FreePort();

    /// <summary>The service listener (1884): only <see cref="ServiceUser"/> can log in.</summary>
    public int ServicePort { get; } = FreePort();

    /// <summary>Where make-certs.sh wrote ca.pem, server.pem and server.key.</summary>
    public string CertificateDirectory => Path.Combine(Directory, "certs");

    public string CaFile => Path.Combine(CertificateDirectory, "ca.pem");

    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Telemetry.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("Telemetry.sln not found above the test binaries.");
        }
    }

    /// <summary>Runs deploy/mosquitto/make-certs.sh; its output goes into the exception if it fails.</summary>
    public static string MakeCerts(string directory, params string[] arguments)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])[Path.Combine(RepositoryRoot, "deploy", "mosquitto", "make-certs.sh"), "-o", directory, .. arguments])
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("bash did not start");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"make-certs.sh exited with {process.ExitCode}:\n{output}{error.Result}");
        }

        return output;
    }

    protected override (string File, IReadOnlyList<string> Args) Command() => ("mosquitto", ["-c", Path.Combine(Directory, "mosquitto.conf")]);

    protected override async Task<bool> IsReadyAsync() =>
        await AcceptsTcpAsync(Port) && await AcceptsTcpAsync(TlsPort) && await AcceptsTcpAsync(ServicePort);

    /// <summary>Free loopback ports for the three listeners and this server's directory for the container's
    /// paths; every substitution must find its target, so a reshaped shipped file fails here, not later.</summary>
    private string Substitute(string shipped)
    {
        (string Pattern, string Replacement)[] substitutions =
        [
            (@"^listener 8883$", $"listener {TlsPort} 127.0.0.1"),
            (@"^listener 1883$", $"listener {Port} 127.0.0.1"),
            (@"^listener 1884$", $"listener {ServicePort} 127.0.0.1"),
            ("/mosquitto/config/", Directory + "/"),
            ("/mosquitto/certs/", CertificateDirectory + "/"),
            ("/mosquitto/data/", Directory + "/"),
        ];
        foreach (var (pattern, replacement) in substitutions)
        {
            var regex = new Regex(pattern, RegexOptions.Multiline);
            if (!regex.IsMatch(shipped))
            {
                throw new InvalidOperationException($"deploy/mosquitto/mosquitto.conf no longer contains '{pattern}'; update MosquittoServer.");
            }

            shipped = regex.Replace(shipped, replacement.Replace("$", "$$", StringComparison.Ordinal));
        }

        return shipped;
    }
}
