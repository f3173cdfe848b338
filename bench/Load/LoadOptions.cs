using System.Globalization;

namespace Telemetry.Bench.Load;

/// <summary>
/// What <c>bench -- load</c> plays: how many devices, what they send and how fast, where, and as whom.
/// Defaults are issue #12's: 1000 devices × 100 messages × 20 readings, as fast as acks allow.
/// </summary>
internal sealed record LoadOptions
{
    public const string Usage = """
        dotnet run -c Release --project bench -- load [options]

          --host HOST            broker address (default 127.0.0.1)
          --port PORT            broker port (default 1883)
          --tls                  connect over TLS; --ca FILE trusts that PEM CA instead of the system roots
          --device-secret FILE   each device logs in as itself with its token derived from this secret
          --username U --password P   one shared account for every device
          --anonymous            no credentials
          --devices N            devices (default 1000), ids {prefix}-00000…
          --prefix P             device id prefix (default load)
          --messages M           telemetry messages per device (default 100)
          --readings R           readings per message (default 20)
          --rate R               messages/s in total, new and resent (default 0: as fast as acks allow)
          --window W             unacknowledged messages per device (default 8)
          --resend-after T       resend a message not acked after T seconds (default 5)
          --timeout T            give up after T seconds (default 600)
          --faulty N             the first N devices develop a sole delamination (impact and ground contact
                                 step up) from --fault-at-seq on, and the tool times each one's alert on
                                 alerts/{id} from the first publish of that message (default 0; needs
                                 --anonymous or --username, whose client may subscribe to alerts/+)
          --fault-at-seq S       the seq at which the fault appears (default: half of --messages)
          --warmup T             leave messages first sent in the first T seconds out of ack_p50_ms and
                                 ack_p99_ms (default 0); ack_p99_ms_with_warmup still counts them
          --boot B               the devices' boot id (default b{base seconds}); rerun with the same --boot
                                 and --base-ms to resend the same messages
          --base-ms MS           first reading's timestamp (default now − 1 h); a device's readings span one hour
          --report FILE          per device: highest contiguous acked seq and readings acked, as JSON
          --cbor                 send telemetry in CBOR (docs/uplink.md) with MQTT 5 content type application/cbor
        """;

    public string Host { get; init; } = "127.0.0.1";

    public int Port { get; init; } = 1883;

    public bool Tls { get; init; }

    public string? CaFile { get; init; }

    public string? DeviceSecretFile { get; init; }

    public string? Username { get; init; }

    public string? Password { get; init; }

    public bool Anonymous { get; init; }

    public int Devices { get; init; } = 1000;

    public string Prefix { get; init; } = "load";

    public int Messages { get; init; } = 100;

    public int Readings { get; init; } = 20;

    public double Rate { get; init; }

    public int Window { get; init; } = 8;

    public TimeSpan ResendAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Messages first sent this early in the run are left out of the ack percentiles (start-up of a fresh
    /// service: JIT, new twins); they still count in every other figure.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.Zero;

    /// <summary>Devices (the first ones) that develop a fault from <see cref="FaultAtSeq"/> on.</summary>
    public int Faulty { get; init; }

    public int FaultAtSeq { get; init; }

    public bool IsFaulty(int device, uint seq) => device < Faulty && seq >= FaultAtSeq;

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);

    public required string Boot { get; init; }

    /// <summary>The first reading's timestamp, epoch ms; every (device, seq, reading) gets its own after it.</summary>
    public required long BaseMs { get; init; }

    public string? ReportFile { get; init; }

    /// <summary>Telemetry in the compact CBOR form instead of JSON, marked by its MQTT 5 content type.</summary>
    public bool Cbor { get; init; }

    public string DeviceId(int index) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}-{index:D5}");

    /// <summary>Milliseconds between a device's consecutive readings: its readings fill one hour.</summary>
    public long StepMs => Math.Max(1, 3_600_000L / Math.Max(1L, (long)Messages * Readings));

    /// <summary>Parses the command line; an unknown option or a bad value throws with the reason.</summary>
    public static LoadOptions Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        string[] flagNames = ["--tls", "--anonymous", "--cbor"];
        string[] valueNames =
        [
            "--host", "--port", "--ca", "--device-secret", "--username", "--password", "--devices", "--prefix",
            "--messages", "--readings", "--rate", "--window", "--resend-after", "--timeout", "--warmup", "--faulty", "--fault-at-seq", "--boot", "--base-ms", "--report",
        ];
        for (var i = 0; i < args.Count; i++)
        {
            if (flagNames.Contains(args[i]))
            {
                flags.Add(args[i]);
            }
            else if (valueNames.Contains(args[i]) && i + 1 < args.Count)
            {
                values[args[i]] = args[++i];
            }
            else
            {
                throw new ArgumentException($"unknown option or missing value: {args[i]}");
            }
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var baseMs = values.TryGetValue("--base-ms", out var b) ? long.Parse(b, CultureInfo.InvariantCulture) : now - 3_600_000L;
        var options = new LoadOptions
        {
            Host = values.GetValueOrDefault("--host", "127.0.0.1"),
            Port = Int("--port", 1883),
            Tls = flags.Contains("--tls"),
            CaFile = values.GetValueOrDefault("--ca"),
            DeviceSecretFile = values.GetValueOrDefault("--device-secret"),
            Username = values.GetValueOrDefault("--username"),
            Password = values.GetValueOrDefault("--password"),
            Anonymous = flags.Contains("--anonymous"),
            Devices = Int("--devices", 1000),
            Prefix = values.GetValueOrDefault("--prefix", "load"),
            Messages = Int("--messages", 100),
            Readings = Int("--readings", 20),
            Rate = values.TryGetValue("--rate", out var r) ? double.Parse(r, CultureInfo.InvariantCulture) : 0,
            Window = Int("--window", 8),
            ResendAfter = Seconds("--resend-after", 5),
            Timeout = Seconds("--timeout", 600),
            Warmup = Seconds("--warmup", 0),
            Faulty = Int("--faulty", 0),
            FaultAtSeq = values.ContainsKey("--fault-at-seq") ? Int("--fault-at-seq", 0) : Int("--messages", 100) / 2,
            Boot = values.GetValueOrDefault("--boot", string.Create(CultureInfo.InvariantCulture, $"b{baseMs / 1000}")),
            BaseMs = baseMs,
            ReportFile = values.GetValueOrDefault("--report"),
            Cbor = flags.Contains("--cbor"),
        };

        var accounts = (options.DeviceSecretFile is null ? 0 : 1) + (options.Username is null ? 0 : 1) + (options.Anonymous ? 1 : 0);
        if (accounts != 1)
        {
            throw new ArgumentException("say who the devices are: exactly one of --device-secret FILE, --username/--password, --anonymous");
        }

        if (options.Devices < 1 || options.Messages < 1 || options.Readings is < 1 or > 500 || options.Window < 1 || options.Rate < 0)
        {
            throw new ArgumentException("--devices, --messages and --window must be at least 1, --readings 1..500, --rate not negative");
        }

        return options;

        int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

        TimeSpan Seconds(string name, double fallback) =>
            TimeSpan.FromSeconds(values.TryGetValue(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback);
    }
}
