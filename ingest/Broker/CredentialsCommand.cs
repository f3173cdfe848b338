using System.CommandLine;
using Microsoft.Extensions.Options;
using Telemetry.Ingest.Cli;
using Telemetry.Models.Cli;
using Telemetry.Ingest.Storage;

namespace Telemetry.Ingest.Broker;

/// <summary>
/// <c>dotnet run --project ingest -- credentials [--mosquitto] [--simulated N] DEVICE_ID...</c> (<c>credentials --help</c>
/// lists the options): prints each
/// device's MQTT password (its token, derived from the device secret), or with <c>--mosquitto</c> the lines
/// to append to Mosquitto's password file. <c>--simulated N</c> adds the ids of the first N simulated devices.
/// The secret comes from the same configuration as the service (<c>Broker:DeviceSecret</c>, or the one the
/// service generated under <c>Storage:DataDirectory</c>).
/// </summary>
internal static class CredentialsCommand
{
    /// <summary>Runs <c>credentials ARGS</c> as the command line does; the unit tests call it in process.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) =>
        VerbRunner.Invoke(IngestCommandLine.Parse(["credentials", .. args], _ => throw new InvalidOperationException("credentials does not run the service")), output, error);

    /// <param name="settings">The <c>--Section:Key value</c> settings of the command line that no option declares.</param>
    public static Command Create(IReadOnlyList<string> settings)
    {
        var mosquitto = new Option<bool>("--mosquitto") { Description = "Print the lines to append to Mosquitto's password file instead of 'DEVICE_ID TOKEN'" };
        var simulated = new Option<int>("--simulated")
        {
            Description = "Also the first N devices of the simulated fleet (--simulate N)",
            HelpName = "N",
            DefaultValueFactory = _ => 0,
        };
        simulated.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
            {
                r.AddError("--simulated must be 0 or more.");
            }
        });
        var secret = new Option<string?>($"--{BrokerOptions.SectionName}:{nameof(BrokerOptions.DeviceSecret)}")
        {
            Description = "The device secret [default: the configuration's, else the one the service generated under the data directory]",
            HelpName = "SECRET",
        };
        var dataDirectory = new Option<string>($"--{StorageOptions.SectionName}:{nameof(StorageOptions.DataDirectory)}")
        {
            Description = "The service's data directory, where it keeps a generated device secret (broker/device-secret)",
            HelpName = "DIR",
            DefaultValueFactory = _ => new StorageOptions().DataDirectory,
        };
        var ids = new Argument<string[]>("DEVICE_ID") { Description = "Device ids (^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$)", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("credentials", """
            Prints each device's MQTT password (its token, derived from the device secret) as 'DEVICE_ID TOKEN'.
            The secret comes from the same configuration as the service's: appsettings.json, environment variables,
            and settings given here as --Section:Key value.
            """)
        {
            ids, mosquitto, simulated, secret, dataDirectory,
        };
        VerbRunner.RejectOptionLikeValues(ids, command);
        ids.Validators.Add(r =>
        {
            foreach (var token in r.Tokens.Where(t => !t.Value.StartsWith('-') && !Uplink.UplinkIds.IsDeviceId(t.Value)))
            {
                r.AddError($"credentials: '{token.Value}' is not a device id (^[A-Za-z0-9][A-Za-z0-9_-]{{0,63}}$) or an option.");
            }
        });
        command.SetAction(parse =>
        {
            List<string> overrides = [.. settings];
            if (parse.GetValue(secret) is { } given)
            {
                overrides.AddRange([secret.Name, given]);
            }

            if (parse.GetResult(dataDirectory) is { Implicit: false })
            {
                overrides.AddRange([dataDirectory.Name, parse.GetRequiredValue(dataDirectory)]);
            }

            List<string> devices = [.. parse.GetValue(ids) ?? [], .. Models.Simulation.FleetGenerator.Create(parse.GetValue(simulated), seed: 42).Select(d => d.Id)];
            if (devices.Count == 0)
            {
                // Checked here rather than by a command validator: reading a value there skips the arguments' own validators.
                parse.InvocationConfiguration.Error.WriteLine("credentials: name at least one DEVICE_ID, or --simulated N (credentials --help lists the options).");
                return VerbRunner.UsageError;
            }

            return Print(devices, parse.GetValue(mosquitto), overrides, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    private static int Print(List<string> devices, bool mosquitto, List<string> settings, TextWriter output, TextWriter error)
    {
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
