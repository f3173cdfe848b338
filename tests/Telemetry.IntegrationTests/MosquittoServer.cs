using Telemetry.Ingest.Broker;

namespace Telemetry.IntegrationTests;

/// <summary>
/// Debian's Mosquitto 2.0 with the project's own ACL file (deploy/mosquitto/acl) and a password file written
/// by the service's credential code, so both shipped artefacts are what the tests exercise.
/// </summary>
public sealed class MosquittoServer : ServerProcess
{
    public const string ServiceUser = "telemetry-service";
    public const string ServicePassword = "service-password";
    public const string ReaderUser = "alerts-reader";
    public const string ReaderPassword = "reader-password";

    public MosquittoServer(string deviceSecret, IEnumerable<string> devices, string extraConfig = "")
        : base("mosquitto")
    {
        var acl = Path.Combine(RepositoryRoot, "deploy", "mosquitto", "acl");
        File.Copy(acl, Path.Combine(Directory, "acl"));
        File.WriteAllLines(Path.Combine(Directory, "passwd"),
        [
            DeviceCredentials.MosquittoPasswordLine(ServiceUser, ServicePassword),
            DeviceCredentials.MosquittoPasswordLine(ReaderUser, ReaderPassword),
            .. devices.Select(d => DeviceCredentials.MosquittoPasswordLine(d, DeviceCredentials.Token(d, deviceSecret))),
        ]);
        File.WriteAllText(Path.Combine(Directory, "mosquitto.conf"), $"""
            user root
            listener {Port} 127.0.0.1
            allow_anonymous false
            password_file {Directory}/passwd
            acl_file {Directory}/acl
            persistence true
            persistence_location {Directory}/
            autosave_interval 10
            max_packet_size 131072
            max_queued_messages 100000
            log_dest stdout
            log_type error
            log_type warning
            {extraConfig}
            """);
    }

    public int Port { get; } = FreePort();

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

    protected override (string File, IReadOnlyList<string> Args) Command() => ("mosquitto", ["-c", Path.Combine(Directory, "mosquitto.conf")]);

    protected override Task<bool> IsReadyAsync() => AcceptsTcpAsync(Port);
}
