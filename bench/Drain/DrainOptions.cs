using System.CommandLine;
using Telemetry.Models.Cli;

namespace Telemetry.Bench.Drain;

/// <summary>
/// What <c>bench -- drain</c> measures: issue #12's backlog (500 devices × 100 messages × 20 readings) by default
/// (<c>drain --help</c> lists the options).
/// </summary>
internal sealed record DrainOptions
{
    public int Devices { get; init; } = 500;

    public int Messages { get; init; } = 100;

    public int Readings { get; init; } = 20;

    public int Runs { get; init; } = 1;

    public bool Influx { get; init; }

    public int SteadySeconds { get; init; }

    public int SteadyWarmup { get; init; } = 10;

    public int SteadyPrewarm { get; init; }

    public int SteadyDevices { get; init; } = 200;

    public double SteadyShare { get; init; } = 0.5;

    public double SteadyRate { get; init; }

    public string? ServiceDll { get; init; }

    public IReadOnlyList<string> ServiceArgs { get; init; } = [];

    public IReadOnlyDictionary<string, string> ServiceEnvironment { get; init; } = new Dictionary<string, string>();

    public string? TraceDirectory { get; init; }

    public bool Keep { get; init; }

    public TimeSpan Hold { get; init; }

    public string? InfluxCpus { get; init; }

    /// <summary>Instances in cluster mode; 0 for the plain single instance.</summary>
    public int Cluster { get; init; }

    public long TotalReadings => (long)Devices * Messages * Readings;

    /// <summary>The <c>drain</c> verb: its options, with the defaults above, shown by <c>drain --help</c>.</summary>
    public static Command Command(Func<DrainOptions, Task<int>> run)
    {
        var defaults = new DrainOptions();
        var devices = Int("--devices", "Devices", "N", defaults.Devices);
        var messages = Int("--messages", "Telemetry messages per device", "M", defaults.Messages);
        var readings = Int("--readings", "Readings per message (1..500)", "R", defaults.Readings);
        var runs = Int("--runs", "Backlogs per store, one after another", "K", defaults.Runs);
        var influx = new Option<bool>("--influx")
        {
            Description = "Also drain into InfluxDB 1.x (influxd), after a plain HTTP reference (the files phase's lines, 5000-line gzip batches, 2 writers)",
        };
        var steadySeconds = Int("--steady-seconds", "After the files drain, steady load from the load tool at --steady-share of the rate the service drained at, for about S seconds; reports ack latency (0: none)", "S", defaults.SteadySeconds);
        var steadyWarmup = Int("--steady-warmup", "Seconds of that load before its ack latency counts (the service starts fresh, JITs and creates the devices' twins); ack_p99_ms_with_warmup reports them too", "W", defaults.SteadyWarmup);
        var steadyPrewarm = Int("--steady-prewarm", "Before that load, S seconds of the same load from other devices and another load tool process: the service is warm, its measured devices new", "S", defaults.SteadyPrewarm);
        var steadyDevices = Int("--steady-devices", "Devices of that steady load", "N", defaults.SteadyDevices);
        var steadyShare = new Option<double>("--steady-share") { Description = "Its rate as a share of the files drain's rate", HelpName = "F", DefaultValueFactory = _ => defaults.SteadyShare };
        var steadyRate = new Option<double>("--steady-rate") { Description = "Or a fixed rate, messages/s in total (0: use --steady-share)", HelpName = "R", DefaultValueFactory = _ => defaults.SteadyRate };
        var service = new Option<string?>("--service") { Description = "The service build [default: ingest/bin/Release/net10.0/Telemetry.Ingest.dll]", HelpName = "DLL" };
        var serviceArgs = new Option<string[]>("--service-arg") { Description = "Passed to the service, repeatable (e.g. --service-arg --Pipeline:Partitions=4)", HelpName = "ARG" };
        var serviceEnvironment = new Option<string[]>("--service-env") { Description = "An environment variable for the service, repeatable (e.g. DOTNET_gcServer=1)", HelpName = "NAME=VALUE" };
        var trace = new Option<string?>("--trace") { Description = "Record an EventPipe CPU sample trace of each service drain into DIR", HelpName = "DIR" };
        var hold = Int("--hold", "Keep the service running this long after its drain (to attach dotnet-gcdump, or to watch idle twins being collected); reports its RSS after the hold", "SECONDS", 0);
        var influxCpus = new Option<string?>("--influx-cpus")
        {
            Description = "Run influxd on these CPUs only (taskset -c LIST, e.g. 1): a database on cores of its own, as it would be on its own host, for the service and the plain HTTP reference alike",
            HelpName = "LIST",
        };
        var cluster = Int("--cluster", "N instances of the service in one Orleans cluster (issue #13): Redis for membership and twins, a Mosquitto shared group splitting the backlog between their sessions (files phase, and the steady load if asked); 1 is the same shape with one instance, to compare against; 0: one plain instance", "N", defaults.Cluster);
        var keep = new Option<bool>("--keep") { Description = "Keep the temporary directories" };
        var command = new Command("drain", """
            Queues a backlog in a Mosquitto persistent session, drains it with mosquitto_sub (the reference), then with
            the service (its Release build, started as a process), and prints one JSON line per phase. Exit code 0 when
            every drain completed with nothing missing; 2 for a bad command line.
            """)
        {
            devices, messages, readings, runs, influx, steadySeconds, steadyWarmup, steadyPrewarm, steadyDevices, steadyShare, steadyRate,
            service, serviceArgs, serviceEnvironment, trace, hold, influxCpus, cluster, keep,
        };
        command.SetAction(async parse =>
        {
            var options = new DrainOptions
            {
                Devices = parse.GetValue(devices),
                Messages = parse.GetValue(messages),
                Readings = parse.GetValue(readings),
                Runs = parse.GetValue(runs),
                Influx = parse.GetValue(influx),
                SteadySeconds = parse.GetValue(steadySeconds),
                SteadyWarmup = parse.GetValue(steadyWarmup),
                SteadyPrewarm = parse.GetValue(steadyPrewarm),
                SteadyDevices = parse.GetValue(steadyDevices),
                SteadyShare = parse.GetValue(steadyShare),
                SteadyRate = parse.GetValue(steadyRate),
                ServiceDll = parse.GetValue(service) is { } dll ? Path.GetFullPath(dll) : null,
                ServiceArgs = [.. (parse.GetValue(serviceArgs) ?? []).SelectMany(SplitSetting)],
                TraceDirectory = parse.GetValue(trace) is { } directory ? Path.GetFullPath(directory) : null,
                Hold = TimeSpan.FromSeconds(parse.GetValue(hold)),
                InfluxCpus = parse.GetValue(influxCpus),
                Cluster = parse.GetValue(cluster),
                Keep = parse.GetValue(keep),
            };
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var assignment in parse.GetValue(serviceEnvironment) ?? [])
            {
                var equals = assignment.IndexOf('=', StringComparison.Ordinal);
                if (equals < 1)
                {
                    return await RefuseAsync(parse, $"--service-env wants NAME=VALUE, not {assignment}");
                }

                environment[assignment[..equals]] = assignment[(equals + 1)..];
            }

            return options.Refusal() is { } refusal
                ? await RefuseAsync(parse, refusal)
                : await run(options with { ServiceEnvironment = environment });
        });
        return command;
    }

    /// <summary>Why these options make no run, or null.</summary>
    private string? Refusal()
    {
        if (Devices < 1 || Messages < 1 || Readings is < 1 or > 500 || Runs < 1)
        {
            return "--devices, --messages and --runs must be at least 1, --readings 1..500";
        }

        if (Cluster is < 0 or > 4)
        {
            return "--cluster must be between 0 and 4";
        }

        return Cluster > 0 && (Influx || TraceDirectory is not null || Hold > TimeSpan.Zero)
            ? "--cluster measures the files drain and steady load only: not with --influx, --trace or --hold"
            : null;
    }

    private static async Task<int> RefuseAsync(ParseResult parse, string reason)
    {
        await parse.InvocationConfiguration.Error.WriteLineAsync($"drain: {reason} (drain --help lists the options)");
        return VerbRunner.UsageError;
    }

    /// <summary>"--Key=Value" is split so that the service's configuration reader sees a switch and its value.</summary>
    private static string[] SplitSetting(string arg)
    {
        var equals = arg.IndexOf('=', StringComparison.Ordinal);
        return arg.StartsWith("--", StringComparison.Ordinal) && equals > 0 ? [arg[..equals], arg[(equals + 1)..]] : [arg];
    }

    private static Option<int> Int(string name, string description, string helpName, int defaultValue) =>
        new(name) { Description = description, HelpName = helpName, DefaultValueFactory = _ => defaultValue };
}
