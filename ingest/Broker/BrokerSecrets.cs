using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Telemetry.Ingest.Storage;

namespace Telemetry.Ingest.Broker;

/// <summary>
/// The secrets the broker side needs, resolved once: the device secret (configured, or made on first start
/// and kept under the data directory so tokens stay valid across restarts) and the service's own account.
/// </summary>
internal sealed class BrokerSecrets
{
    public const string DefaultServiceUsername = "telemetry-service";

    public BrokerSecrets(IOptions<BrokerOptions> broker, IOptions<StorageOptions> storage)
    {
        var options = broker.Value;
        DeviceSecret = options.DeviceSecret.Length > 0 ? options.DeviceSecret : LoadOrCreate(storage.Value.DataDirectory);
        var embedded = options.Mode == BrokerMode.Embedded;
        ServiceUsername = options.Username.Length > 0 ? options.Username : embedded ? DefaultServiceUsername : string.Empty;
        ServicePassword = options.Password.Length > 0 || !embedded ? options.Password : Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
    }

    public string DeviceSecret { get; }

    public string ServiceUsername { get; }

    public string ServicePassword { get; }

    /// <summary>The token a device presents as its MQTT password.</summary>
    public string TokenFor(string deviceId) => DeviceCredentials.Token(deviceId, DeviceSecret);

    /// <summary>Where a generated device secret is kept.</summary>
    public static string SecretPath(string dataDirectory) => Path.Combine(dataDirectory, "broker", "device-secret");

    private static string LoadOrCreate(string dataDirectory)
    {
        var path = SecretPath(dataDirectory);
        if (File.Exists(path))
        {
            return File.ReadAllText(path).Trim();
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(path, create))
        using (var writer = new StreamWriter(file))
        {
            writer.Write(secret);
        }

        return secret;
    }
}
