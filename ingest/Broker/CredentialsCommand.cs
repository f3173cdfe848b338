using Microsoft.Extensions.Options;
using Telemetry.Ingest.Storage;

namespace Telemetry.Ingest.Broker;

/// <summary>
/// <c>dotnet run --project ingest -- credentials [--mosquitto] [--simulated N] DEVICE_ID...</c>: prints each
/// device's MQTT password (its token, derived from the device secret), or with <c>--mosquitto</c> the lines
/// to append to Mosquitto's password file. <c>--simulated N</c> adds the ids of the first N simulated devices.
/// The secret comes from the same configuration as the service (<c>Broker:DeviceSecret</c>, or the one the
/// service generated under <c>Storage:DataDirectory</c>).
/// </summary>
internal static class CredentialsCommand
{
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var mosquitto = false;
        var devices = new List<string>();
        var settings = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--mosquitto":
                    mosquitto = true;
                    break;
                case "--simulated" when i + 1 < args.Length && int.TryParse(args[i + 1], out var count) && count >= 0:
                    devices.AddRange(Models.Simulation.FleetGenerator.Create(count, seed: 42).Select(d => d.Id));
                    i++;
                    break;
                case var setting when setting.StartsWith("--", StringComparison.Ordinal) && setting.Contains(':', StringComparison.Ordinal) && i + 1 < args.Length:
                    settings.Add(setting);
                    settings.Add(args[++i]);
                    break;
                case var id when Uplink.UplinkIds.IsDeviceId(id):
                    devices.Add(id);
                    break;
                default:
                    error.WriteLine($"credentials: '{args[i]}' is not a device id (^[A-Za-z0-9][A-Za-z0-9_-]{{0,63}}$) or an option.");
                    error.WriteLine("usage: credentials [--mosquitto] [--simulated N] [--Broker:DeviceSecret S] DEVICE_ID...");
                    return 2;
            }
        }

        if (devices.Count == 0)
        {
            error.WriteLine("usage: credentials [--mosquitto] [--simulated N] [--Broker:DeviceSecret S] DEVICE_ID...");
            return 2;
        }

        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine([.. settings])
            .Build();
        var broker = configuration.GetSection(BrokerOptions.SectionName).Get<BrokerOptions>() ?? new BrokerOptions();
        var storage = configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
        // A device named like the service's client ids would own them on Mosquitto, where a device's client id is
        // its username; the embedded broker refuses such a device. Neither gets credentials.
        if (devices.Find(d => BrokerAccess.IsServiceClientId(d, broker.ClientIdPrefix)) is { } reserved)
        {
            error.WriteLine($"credentials: '{reserved}' starts with '{broker.ClientIdPrefix}', the prefix of the service's client ids (Broker:ClientIdPrefix); choose another device id.");
            return 2;
        }

        var secrets = new BrokerSecrets(Options.Create(broker), Options.Create(storage));
        foreach (var device in devices)
        {
            var token = secrets.TokenFor(device);
            output.WriteLine(mosquitto ? DeviceCredentials.MosquittoPasswordLine(device, token) : $"{device} {token}");
        }

        return 0;
    }
}
