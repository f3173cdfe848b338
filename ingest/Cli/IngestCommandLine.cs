using System.CommandLine;
using System.CommandLine.Help;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Simulation;
using Telemetry.Ingest.Storage;
using Telemetry.Ingest.Twins;
using Telemetry.Models.Cli;

namespace Telemetry.Ingest.Cli;

/// <summary>
/// <c>dotnet run --project ingest -- [VERB] [options]</c>. With a verb (<c>export</c>, <c>credentials</c>) it runs
/// that. With none it runs the service and hands it every argument exactly as given, so that any setting works as
/// before, <c>--Section:Key value</c> or <c>--Section:Key=value</c>; the main settings are declared here only so that
/// <c>--help</c> lists them with their defaults.
/// </summary>
internal static class IngestCommandLine
{
    public static Task<int> InvokeAsync(string[] args, Func<string[], Task<int>> runService, TextWriter output, TextWriter error) =>
        VerbRunner.InvokeAsync(Parse(args, runService), output, error);

    /// <summary>Parses without running: what <c>credentials</c> and the tests need.</summary>
    public static ParseResult Parse(string[] args, Func<string[], Task<int>> runService)
    {
        var settings = new List<string>();
        var root = Create(args, runService, settings);
        var declared = root.Subcommands.SelectMany(c => c.Options).SelectMany(o => o.Aliases.Prepend(o.Name)).ToHashSet(StringComparer.Ordinal);

        // Settings no verb declares are set aside before parsing, so that a setting's value is never taken for a verb
        // ("--Foo:Bar export") or a device id, and credentials can still read them as configuration.
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (IsSetting(args[i]) && !declared.Contains(args[i].Split('=', 2)[0]))
            {
                settings.Add(args[i]);
                if (!args[i].Contains('=', StringComparison.Ordinal) && i + 1 < args.Length)
                {
                    settings.Add(args[++i]);
                }
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        if (rest.Count > 0 && root.Subcommands.Any(c => c.Name == rest[0]))
        {
            return VerbRunner.Parse(root, rest);
        }

        // The service: its arguments are its configuration's, exactly as given (a setting may repeat, the last one
        // wins; a bad value is for start-up validation to name). The command line answers only --help and --version.
        var ours = root.Options.Where(o => o is HelpOption or VersionOption).SelectMany(o => o.Aliases.Prepend(o.Name)).ToHashSet(StringComparer.Ordinal);
        return root.Parse([.. rest.Where(ours.Contains)], VerbRunner.Parser);
    }

    /// <summary>A configuration key on the command line: <c>--Section:Key</c>, as Microsoft.Extensions.Configuration reads it.</summary>
    private static bool IsSetting(string token) =>
        token.StartsWith("--", StringComparison.Ordinal) && token.Split('=', 2)[0].Contains(':', StringComparison.Ordinal);

    private static RootCommand Create(string[] args, Func<string[], Task<int>> runService, IReadOnlyList<string> overrides)
    {
        var root = new RootCommand("""
            Telemetry: MQTT ingest, device twins in Orleans, wear and fault alerts, quality signals.
            Without a verb it runs the service. Any setting of README's configuration table can be given as
            --Section:Key value or --Section:Key=value (e.g. --Orleans:SiloPort 11112); the main ones are below.
            """);
        var broker = new BrokerOptions();
        root.Options.Add(new Option<int>("--simulate")
        {
            Description = $"Simulated devices to play against the service, the demo fleet ({SimulationOptions.SectionName}:{nameof(SimulationOptions.Devices)})",
            HelpName = "N",
            DefaultValueFactory = _ => new SimulationOptions().Devices,
        });
        root.Options.Add(new Option<string>("--urls")
        {
            Description = "HTTP address of the API and /metrics",
            HelpName = "URLS",
            DefaultValueFactory = _ => "http://127.0.0.1:8080",
        });
        root.Options.Add(Setting<string>(StorageOptions.SectionName, nameof(StorageOptions.DataDirectory), new StorageOptions().DataDirectory, "DIR",
            "Where the service keeps its files: spill file, day files, twins.db, the device secret, the API key"));
        root.Options.Add(Setting<BrokerMode>(BrokerOptions.SectionName, nameof(BrokerOptions.Mode), broker.Mode, "Embedded|External",
            "Embedded: an MQTT broker in the service; External: connect to one (e.g. Mosquitto)"));
        root.Options.Add(Setting<string>(BrokerOptions.SectionName, nameof(BrokerOptions.Host), broker.Host, "HOST",
            "Where the service's MQTT clients connect"));
        root.Options.Add(Setting<int>(BrokerOptions.SectionName, nameof(BrokerOptions.Port), broker.Port, "PORT",
            "The broker's port (the embedded broker listens on it)"));
        root.Options.Add(Setting<string>(InfluxOptions.SectionName, nameof(InfluxOptions.Url), new InfluxOptions().Url, "URL",
            "InfluxDB address; empty stores readings as line-protocol day files under {data}/lines/"));
        root.Options.Add(Setting<TwinStore>(TwinOptions.SectionName, nameof(TwinOptions.Store), new TwinOptions().Store, "Sqlite|Redis|Memory",
            "Where device twins are stored"));
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(CredentialsCommand.Create(overrides));
        root.SetAction(_ => runService(args));
        return root;
    }

    private static Option<T> Setting<T>(string section, string key, T defaultValue, string helpName, string description) =>
        new($"--{section}:{key}")
        {
            Description = description,
            HelpName = helpName,
            DefaultValueFactory = _ => defaultValue,
        };
}
