using System.CommandLine;
using System.Globalization;
using Telemetry.Models.Cli;

namespace Telemetry.Bench.Load;

/// <summary>
/// What <c>bench -- load</c> plays: how many devices, what they send and how fast, where, and as whom
/// (<c>load --help</c> lists the options).
/// Defaults are issue #12's: 1000 devices × 100 messages × 20 readings, as fast as acks allow.
/// </summary>
internal sealed record LoadOptions
{
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

    /// <summary>
    /// The <c>load</c> verb: its options, with the defaults above, shown by <c>load --help</c>. The action gets the
    /// options read and checked; a combination that makes no run (no account, no devices) is refused with the reason.
    /// </summary>
    public static Command Command(Func<LoadOptions, Task<int>> run)
    {
        var defaults = new LoadOptions { Boot = string.Empty, BaseMs = 0 };
        var host = new Option<string>("--host") { Description = "Broker address", HelpName = "HOST", DefaultValueFactory = _ => defaults.Host };
        var port = new Option<int>("--port") { Description = "Broker port", HelpName = "PORT", DefaultValueFactory = _ => defaults.Port };
        var tls = new Option<bool>("--tls") { Description = "Connect over TLS (the system's roots, or --ca)" };
        var ca = new Option<string?>("--ca") { Description = "With --tls, trust this PEM CA instead of the system roots", HelpName = "FILE" };
        var deviceSecret = new Option<string?>("--device-secret") { Description = "Each device logs in as itself with the token derived from the secret in this file", HelpName = "FILE" };
        var username = new Option<string?>("--username") { Description = "One shared account for every device (with --password)", HelpName = "U" };
        var password = new Option<string?>("--password") { Description = "That account's password", HelpName = "P" };
        var anonymous = new Option<bool>("--anonymous") { Description = "No credentials" };
        var devices = new Option<int>("--devices") { Description = "Devices, ids {prefix}-00000…", HelpName = "N", DefaultValueFactory = _ => defaults.Devices };
        var prefix = new Option<string>("--prefix") { Description = "Device id prefix", HelpName = "P", DefaultValueFactory = _ => defaults.Prefix };
        var messages = new Option<int>("--messages") { Description = "Telemetry messages per device", HelpName = "M", DefaultValueFactory = _ => defaults.Messages };
        var readings = new Option<int>("--readings") { Description = "Readings per message (1..500)", HelpName = "R", DefaultValueFactory = _ => defaults.Readings };
        var rate = new Option<double>("--rate") { Description = "Messages/s in total, new and resent; 0: as fast as acks allow", HelpName = "R", DefaultValueFactory = _ => defaults.Rate };
        var window = new Option<int>("--window") { Description = "Unacknowledged messages per device", HelpName = "W", DefaultValueFactory = _ => defaults.Window };
        var resendAfter = Seconds("--resend-after", "Resend a message not acked after this many seconds", defaults.ResendAfter);
        var timeout = Seconds("--timeout", "Give up after this many seconds", defaults.Timeout);
        var faulty = new Option<int>("--faulty")
        {
            Description = "The first N devices develop a sole delamination (impact and ground contact step up) from --fault-at-seq on, and the tool times each one's alert on alerts/{id} from the first publish of that message (needs --anonymous or --username, whose client may subscribe to alerts/+)",
            HelpName = "N",
            DefaultValueFactory = _ => defaults.Faulty,
        };
        var faultAtSeq = new Option<int?>("--fault-at-seq") { Description = "The seq at which the fault appears [default: half of --messages]", HelpName = "S" };
        var warmup = Seconds("--warmup", "Leave messages first sent in the first T seconds out of ack_p50_ms and ack_p99_ms; ack_p99_ms_with_warmup still counts them", defaults.Warmup);
        var boot = new Option<string?>("--boot") { Description = "The devices' boot id; rerun with the same --boot and --base-ms to resend the same messages [default: b{base seconds}]", HelpName = "B" };
        var baseMs = new Option<long?>("--base-ms") { Description = "The first reading's timestamp, epoch ms; a device's readings span one hour [default: now − 1 h]", HelpName = "MS" };
        var report = new Option<string?>("--report") { Description = "Write per device the highest contiguous acked seq and the readings acked, as JSON", HelpName = "FILE" };
        var cbor = new Option<bool>("--cbor") { Description = "Send telemetry in CBOR (docs/uplink.md) with MQTT 5 content type application/cbor" };
        var command = new Command("load", """
            Plays --devices real devices against a broker and the service behind it, then prints one JSON line of
            figures on standard output. Exit code 0 only when the service acknowledged every message; 1 when the run
            timed out with messages still held by their devices; 2 for a bad command line.
            """)
        {
            host, port, tls, ca, deviceSecret, username, password, anonymous, devices, prefix, messages, readings, rate, window,
            resendAfter, timeout, faulty, faultAtSeq, warmup, boot, baseMs, report, cbor,
        };
        command.SetAction(async parse =>
        {
            var first = parse.GetValue(baseMs) ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 3_600_000L;
            var options = new LoadOptions
            {
                Host = parse.GetRequiredValue(host),
                Port = parse.GetValue(port),
                Tls = parse.GetValue(tls),
                CaFile = parse.GetValue(ca),
                DeviceSecretFile = parse.GetValue(deviceSecret),
                Username = parse.GetValue(username),
                Password = parse.GetValue(password),
                Anonymous = parse.GetValue(anonymous),
                Devices = parse.GetValue(devices),
                Prefix = parse.GetRequiredValue(prefix),
                Messages = parse.GetValue(messages),
                Readings = parse.GetValue(readings),
                Rate = parse.GetValue(rate),
                Window = parse.GetValue(window),
                ResendAfter = TimeSpan.FromSeconds(parse.GetValue(resendAfter)),
                Timeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                Warmup = TimeSpan.FromSeconds(parse.GetValue(warmup)),
                Faulty = parse.GetValue(faulty),
                FaultAtSeq = parse.GetValue(faultAtSeq) ?? parse.GetValue(messages) / 2,
                Boot = parse.GetValue(boot) ?? string.Create(CultureInfo.InvariantCulture, $"b{first / 1000}"),
                BaseMs = first,
                ReportFile = parse.GetValue(report),
                Cbor = parse.GetValue(cbor),
            };
            if (options.Refusal() is { } refusal)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"load: {refusal} (load --help lists the options)");
                return VerbRunner.UsageError;
            }

            return await run(options);
        });
        return command;
    }

    /// <summary>Why these options make no run, or null.</summary>
    private string? Refusal()
    {
        var accounts = (DeviceSecretFile is null ? 0 : 1) + (Username is null ? 0 : 1) + (Anonymous ? 1 : 0);
        if (accounts != 1)
        {
            return "say who the devices are: exactly one of --device-secret FILE, --username/--password, --anonymous";
        }

        return Devices < 1 || Messages < 1 || Readings is < 1 or > 500 || Window < 1 || Rate < 0
            ? "--devices, --messages and --window must be at least 1, --readings 1..500, --rate not negative"
            : null;
    }

    private static Option<double> Seconds(string name, string description, TimeSpan defaultValue) =>
        new(name) { Description = description, HelpName = "SECONDS", DefaultValueFactory = _ => defaultValue.TotalSeconds };
}
