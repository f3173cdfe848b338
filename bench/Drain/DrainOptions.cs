using System.Globalization;

namespace Telemetry.Bench.Drain;

/// <summary>What <c>bench -- drain</c> measures: issue #12's backlog (500 devices × 100 messages × 20 readings) by default.</summary>
internal sealed record DrainOptions
{
    public const string Usage = """
        dotnet run -c Release --project bench -- drain [options]

        Queues a backlog in a Mosquitto persistent session, drains it with mosquitto_sub (the reference), then
        with the service (its Release build, started as a process), and prints one JSON line per phase.

          --devices N          devices (default 500)
          --messages M         telemetry messages per device (default 100)
          --readings R         readings per message (default 20)
          --runs K             backlogs per store, one after another (default 1)
          --influx             also drain into InfluxDB 1.x (influxd), after a plain HTTP reference
                               (the files phase's lines, 5000-line gzip batches, 2 writers)
          --steady-seconds S   after the files drain, steady load from the load tool at half the rate the
                               service drained at, for about S seconds (default 0: none); reports ack latency
          --steady-warmup W    seconds of that load before its ack latency counts (default 10: the service
                               starts fresh, JITs and creates the devices' twins); ack_p99_ms_with_warmup
                               reports them too
          --steady-prewarm S   before that load, S seconds of the same load from other devices and another
                               load tool process (default 0): the service is warm, its measured devices new
          --steady-devices N   devices of that steady load (default 200)
          --steady-share F     its rate as a share of the files drain's rate (default 0.5)
          --steady-rate R      or a fixed rate, messages/s in total
          --service DLL        the service build (default ingest/bin/Release/net10.0/Telemetry.Ingest.dll)
          --service-arg ARG    passed to the service, repeatable (e.g. --service-arg --Pipeline:Partitions=4)
          --service-env N=V    an environment variable for the service, repeatable (e.g. DOTNET_gcServer=1)
          --trace DIR          record an EventPipe CPU sample trace of each service drain into DIR
          --hold SECONDS       keep the service running this long after its drain (to attach dotnet-gcdump, or
                               to watch idle twins being collected); reports its RSS after the hold
          --influx-cpus LIST   run influxd on these CPUs only (taskset -c LIST, e.g. 1): a database on cores
                               of its own, as it would be on its own host, for the service and the plain HTTP
                               reference alike
          --cluster N          N instances of the service in one Orleans cluster (issue #13): Redis for
                               membership and twins (redis-server), a Mosquitto shared group splitting the
                               backlog between their sessions (files phase, and the steady load if asked);
                               --cluster 1 is the same shape with one instance, to compare against
                               (default 0: one plain instance)
          --keep               keep the temporary directories
        """;

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

    public static DrainOptions Parse(IReadOnlyList<string> args)
    {
        var options = new DrainOptions();
        var serviceArgs = new List<string>();
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            int Int() => int.Parse(Value(), CultureInfo.InvariantCulture);
            options = name switch
            {
                "--devices" => options with { Devices = Int() },
                "--messages" => options with { Messages = Int() },
                "--readings" => options with { Readings = Int() },
                "--runs" => options with { Runs = Int() },
                "--influx" => options with { Influx = true },
                "--steady-seconds" => options with { SteadySeconds = Int() },
                "--steady-devices" => options with { SteadyDevices = Int() },
                "--steady-warmup" => options with { SteadyWarmup = Int() },
                "--steady-prewarm" => options with { SteadyPrewarm = Int() },
                "--steady-share" => options with { SteadyShare = double.Parse(Value(), CultureInfo.InvariantCulture) },
                "--steady-rate" => options with { SteadyRate = double.Parse(Value(), CultureInfo.InvariantCulture) },
                "--service" => options with { ServiceDll = Path.GetFullPath(Value()) },
                "--trace" => options with { TraceDirectory = Path.GetFullPath(Value()) },
                "--keep" => options with { Keep = true },
                "--cluster" => options with { Cluster = Int() },
                "--hold" => options with { Hold = TimeSpan.FromSeconds(Int()) },
                "--influx-cpus" => options with { InfluxCpus = Value() },
                "--service-arg" => Add(options, Value()),
                "--service-env" => Environment(options, Value()),
                _ => throw new ArgumentException($"unknown option: {name}"),
            };
        }

        if (options.Devices < 1 || options.Messages < 1 || options.Readings is < 1 or > 500 || options.Runs < 1)
        {
            throw new ArgumentException("--devices, --messages and --runs must be at least 1, --readings 1..500");
        }

        if (options.Cluster is < 0 or > 4)
        {
            throw new ArgumentException("--cluster must be between 0 and 4");
        }

        if (options.Cluster > 0 && (options.Influx || options.TraceDirectory is not null || options.Hold > TimeSpan.Zero))
        {
            throw new ArgumentException("--cluster measures the files drain and steady load only: not with --influx, --trace or --hold");
        }

        return options with { ServiceArgs = serviceArgs, ServiceEnvironment = environment };

        DrainOptions Environment(DrainOptions o, string assignment)
        {
            var equals = assignment.IndexOf('=', StringComparison.Ordinal);
            if (equals < 1)
            {
                throw new ArgumentException($"--service-env wants NAME=VALUE, not {assignment}");
            }

            environment[assignment[..equals]] = assignment[(equals + 1)..];
            return o;
        }

        DrainOptions Add(DrainOptions o, string arg)
        {
            // "--Key=Value" is split so that the service's configuration reader sees a switch and its value.
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                serviceArgs.Add(arg[..equals]);
                serviceArgs.Add(arg[(equals + 1)..]);
            }
            else
            {
                serviceArgs.Add(arg);
            }

            return o;
        }
    }
}
