using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Telemetry.Bench.Load;

namespace Telemetry.Bench.Drain;

/// <summary>
/// <c>bench -- drain</c>: issue #12's end-to-end measurement. One backlog per phase is queued in Mosquitto for two
/// persistent sessions, drained first by <c>mosquitto_sub</c> (the reference: what the broker can hand out) and
/// then by the service, into line files and, with <c>--influx</c>, into InfluxDB next to a plain HTTP write of
/// the same lines. Prints one JSON line per phase; exit code 0 when every drain completed with nothing missing.
/// </summary>
internal static class DrainCommand
{
    private const string Prefix = "drain";
    private const string ApiKey = "drain-admin-key";

    public static Command Create() => DrainOptions.Command(RunAsync);

    private static async Task<int> RunAsync(DrainOptions options)
    {
        var dll = options.ServiceDll ?? Path.Combine(RepositoryRoot(), "ingest", "bin", "Release", "net10.0", "Telemetry.Ingest.dll");
        if (!File.Exists(dll))
        {
            await Console.Error.WriteLineAsync($"drain: {dll} not found; build it first: dotnet build ingest -c Release");
            return 2;
        }

        var work = ChildProcess.TemporaryDirectory("run");
        try
        {
            return await RunPhasesAsync(options, dll, work) ? 0 : 1;
        }
        finally
        {
            if (!options.Keep)
            {
                Directory.Delete(work, recursive: true);
            }
            else
            {
                await Console.Error.WriteLineAsync($"drain: kept {work}");
            }
        }
    }

    private static async Task<bool> RunPhasesAsync(DrainOptions options, string dll, string work)
    {
        var mqttPort = ChildProcess.FreePort();
        await File.WriteAllTextAsync(Path.Combine(work, "mosquitto.conf"), $"""
            user root
            listener {mqttPort} 127.0.0.1
            allow_anonymous true
            persistence false
            # The whole backlog waits in each session; the shipped configuration's 100000 would cap a large fleet.
            # Not 0 ("no maximum"): Mosquitto 2.0 has had bugs that drop outgoing messages with that setting.
            max_queued_messages 10000000
            # As deploy/mosquitto/mosquitto.conf: no Nagle delay on PUBACKs.
            set_tcp_nodelay true
            log_dest stderr
            log_type error
            log_type warning
            log_type notice
            """);
        await using var mosquitto = ChildProcess.Start("mosquitto", ["-c", Path.Combine(work, "mosquitto.conf")]);
        await mosquitto.WaitUntilAsync(() => ChildProcess.AcceptsTcpAsync(mqttPort), TimeSpan.FromSeconds(20), "mosquitto");

        // Both persistent sessions exist before anything is published, so each queues the whole backlog.
        await RunToEndAsync("mosquitto_sub", ["-p", Port(mqttPort), "-c", "-i", "drain-ref", "-q", "1", "-t", "devices/+/telemetry", "-E"]);
        if (options.Cluster == 0)
        {
            await RunToEndAsync("mosquitto_sub", ["-p", Port(mqttPort), "-V", "5", "-c", "-x", "86400", "-i", $"{Prefix}-ingest", "-q", "1",
                "-t", "devices/+/telemetry", "-t", "devices/+/birth", "-E"]);
        }
        else
        {
            // One session per instance in the shared group: Mosquitto splits the backlog between them as it is published.
            for (var i = 0; i < options.Cluster; i++)
            {
                await RunToEndAsync("mosquitto_sub", ["-p", Port(mqttPort), "-V", "5", "-c", "-x", "86400", "-i", $"{InstancePrefix(i)}-ingest", "-q", "1",
                    "-t", $"$share/{SharedGroup}/devices/+/telemetry", "-t", $"$share/{SharedGroup}/devices/+/birth", "-E"]);
            }
        }

        ChildProcess? redis = null;
        var redisPort = 0;
        if (options.Cluster > 0)
        {
            redisPort = ChildProcess.FreePort();
            redis = ChildProcess.Start("redis-server", ["--port", Port(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work]);
            await redis.WaitUntilAsync(() => ChildProcess.AcceptsTcpAsync(redisPort), TimeSpan.FromSeconds(20), "redis-server");
        }

        await using var redisLifetime = redis;

        ChildProcess? influx = null;
        var influxPort = 0;
        if (options.Influx)
        {
            (influx, influxPort) = await StartInfluxAsync(work, options.InfluxCpus);
        }

        var dataDirectory = Path.Combine(work, "service-data");
        var ok = true;
        try
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(30));
            var load = LoadFor(options, "births");
            await Backlog.PublishBirthsAsync(mqttPort, load, cancel.Token);
            for (var run = 1; run <= options.Runs; run++)
            {
                var files = await PhaseAsync(options, dll, work, dataDirectory, mqttPort, run, "files", ClusterArgs(options, redisPort), cancel.Token);
                ok &= files.Complete;
                await Console.Out.WriteLineAsync(files.Json);
                if (influx is not null)
                {
                    var database = string.Create(CultureInfo.InvariantCulture, $"drain{run}");
                    var curl = await HttpReferenceAsync(influxPort, $"reference{run}", files.Lines, cancel.Token);
                    var stored = await PhaseAsync(options, dll, work, dataDirectory, mqttPort, run, "influx",
                        ["--Influx:Url", $"http://127.0.0.1:{influxPort}/", "--Influx:Database", database], cancel.Token, curl);
                    var counted = await CountAsync(influxPort, database, cancel.Token);
                    ok &= stored.Complete && counted == options.TotalReadings;
                    await Console.Out.WriteLineAsync(stored.Json.TrimEnd('}') + string.Create(CultureInfo.InvariantCulture, $",\"influx_points\":{counted}}}"));
                }

                // Last, so that whatever the steady load leaves unacknowledged in the service's session cannot add
                // to a drain's work.
                if (options.SteadySeconds > 0 && files.Complete)
                {
                    ok &= await SteadyAsync(options, dll, dataDirectory, mqttPort, redisPort, files.ReadingsPerSecond, mosquitto);
                }
            }
        }
        finally
        {
            if (influx is not null)
            {
                await influx.DisposeAsync();
            }
        }

        return ok;
    }

    private sealed record Phase(bool Complete, string Json, string[] Lines, double ReadingsPerSecond);

    private static async Task<Phase> PhaseAsync(
        DrainOptions options, string dll, string work, string dataDirectory, int mqttPort, int run, string store,
        string[] storeArgs, CancellationToken cancellationToken, double? httpReferenceLinesPerSecond = null)
    {
        var load = LoadFor(options, string.Create(CultureInfo.InvariantCulture, $"{store}{run}"));
        var publish = Stopwatch.StartNew();
        await Backlog.PublishTelemetryAsync(mqttPort, load, cancellationToken);
        var publishSeconds = publish.Elapsed.TotalSeconds;

        // The reference: the broker's own client drains its session and throws the payloads away.
        var reference = Stopwatch.StartNew();
        await RunToEndAsync("sh", ["-c", string.Create(CultureInfo.InvariantCulture,
            $"mosquitto_sub -p {mqttPort} -c -i drain-ref -q 1 -t 'devices/+/telemetry' -C {(long)options.Devices * options.Messages} -W 600 > /dev/null")]);
        var referenceSeconds = reference.Elapsed.TotalSeconds;

        var instances = Math.Max(1, options.Cluster);
        var dataDirectories = options.Cluster == 0 ? [dataDirectory] : Enumerable.Range(0, instances).Select(i => $"{dataDirectory}-{i}").ToArray();
        var befores = dataDirectories.Select(d => LineFileLengths(Path.Combine(d, "lines"))).ToArray();
        var environment = new Dictionary<string, string>(options.ServiceEnvironment);
        if (options.TraceDirectory is { } traces)
        {
            Directory.CreateDirectory(traces);
            environment["DOTNET_EnableEventPipe"] = "1";
            environment["DOTNET_EventPipeOutputPath"] = Path.Combine(traces, string.Create(CultureInfo.InvariantCulture, $"service-{store}{run}.nettrace"));
            environment["DOTNET_EventPipeConfig"] = "Microsoft-DotNETCore-SampleProfiler:0:5,Microsoft-Windows-DotNETRuntime:0x1:4";
        }

        await using var acks = await AckWatch.StartAsync(mqttPort, load.Boot, options.Devices, options.Messages - 1, cancellationToken);
        var started = Stopwatch.StartNew();
        var running = Enumerable.Range(0, instances)
            .Select(i => StartService(options, dll, dataDirectories[i], mqttPort,
                options.Cluster == 0 ? storeArgs : [.. storeArgs, "--Broker:ClientIdPrefix", InstancePrefix(i)], environment))
            .ToArray();
        await using var servicesLifetime = new Instances(running);
        var (service, http) = running[0];

        // The drain is timed from the first line stored to the last device's ack for its last message (stored
        // and applied to its twin); the service's start-up is reported apart.
        var expected = options.TotalReadings;
        double? firstAt = null;
        TimeSpan cpuAtFirst = default;
        long peakRss = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
        while (!acks.Complete.IsCompleted && DateTime.UtcNow < deadline && !servicesLifetime.AnyExited)
        {
            peakRss = Math.Max(peakRss, servicesLifetime.ResidentBytes());
            if (firstAt is null && await servicesLifetime.AnyLinesWrittenAsync())
            {
                firstAt = started.Elapsed.TotalSeconds;
                cpuAtFirst = servicesLifetime.CpuTime();
            }

            await Task.WhenAny(acks.Complete, Task.Delay(firstAt is null ? 10 : 100, cancellationToken));
        }

        var doneAt = started.Elapsed.TotalSeconds;
        var cpu = servicesLifetime.AnyExited ? TimeSpan.Zero : servicesLifetime.CpuTime() - cpuAtFirst;
        var complete = acks.Complete.IsCompleted;

        // What the drained devices leave resident (their twins, the pipeline's caches): RSS once every ack is in,
        // and again after --hold (time to attach dotnet-gcdump, or for idle twins to be collected).
        var endRss = servicesLifetime.AnyExited ? 0 : servicesLifetime.ResidentBytes();
        if (options.Hold > TimeSpan.Zero && !service.HasExited)
        {
            await Console.Error.WriteLineAsync($"drain: holding the service (pid {service.Id}) for {options.Hold}");
            await Task.Delay(options.Hold, cancellationToken);
        }

        var heldRss = service.HasExited ? 0 : service.ResidentBytes();
        foreach (var (each, _) in running)
        {
            await each.StopAsync(TimeSpan.FromSeconds(30));
        }

        var lines = store == "files"
            ? dataDirectories.SelectMany((d, i) => NewLines(Path.Combine(d, "lines"), befores[i], $"boot=\"{load.Boot}\"")).ToArray()
            : [];
        var written = store == "files" ? lines.Length : complete ? expected : 0;
        var drainSeconds = doneAt - (firstAt ?? doneAt);
        var referenceRate = expected / referenceSeconds;
        var serviceRate = drainSeconds > 0 ? written / drainSeconds : 0;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("phase", store);
            w.WriteNumber("run", run);
            if (options.Cluster > 0)
            {
                w.WriteNumber("cluster_instances", options.Cluster);
            }

            w.WriteNumber("devices", options.Devices);
            w.WriteNumber("messages", (long)options.Devices * options.Messages);
            w.WriteNumber("readings", expected);
            w.WriteNumber("publish_s", Math.Round(publishSeconds, 2));
            w.WriteNumber("reference_s", Math.Round(referenceSeconds, 2));
            w.WriteNumber("reference_readings_per_s", Math.Round(referenceRate));
            w.WriteNumber("service_start_to_first_s", Math.Round(firstAt ?? 0, 2));
            w.WriteNumber("service_drain_s", Math.Round(drainSeconds, 2));
            w.WriteNumber("service_readings_per_s", Math.Round(serviceRate));
            w.WriteNumber("share_of_reference", Math.Round(serviceRate / referenceRate, 3));
            w.WriteNumber("service_cpu_us_per_reading", Math.Round(cpu.TotalMicroseconds / Math.Max(1, written), 2));
            w.WriteNumber("service_peak_rss_mib", Math.Round(Math.Max(peakRss, endRss) / 1048576.0));
            w.WriteNumber("service_end_rss_mib", Math.Round(endRss / 1048576.0));
            if (options.Hold > TimeSpan.Zero)
            {
                w.WriteNumber("service_rss_after_hold_mib", Math.Round(heldRss / 1048576.0));
            }

            w.WriteNumber("devices_acked", acks.DevicesDone);
            if (store == "files")
            {
                w.WriteNumber("readings_in_files", lines.Length);
            }

            if (httpReferenceLinesPerSecond is { } curl)
            {
                w.WriteNumber("http_reference_lines_per_s", double.IsFinite(curl) ? Math.Round(curl) : 0);
                w.WriteNumber("share_of_http_reference", curl > 0 ? Math.Round(serviceRate / curl, 3) : 0);
                if (options.InfluxCpus is { } cpus)
                {
                    w.WriteString("influx_cpus", cpus);
                }
            }

            w.WriteBoolean("complete", complete && (store != "files" || lines.Length == expected));
            w.WriteEndObject();
        }

        if (!complete)
        {
            await Console.Error.WriteLineAsync($"drain: the {store} drain ended with {acks.DevicesDone} of {options.Devices} devices acked; service output:\n{service.Output}");
        }

        return new Phase(complete && (store != "files" || lines.Length == expected), Encoding.UTF8.GetString(buffer.ToArray()), lines, serviceRate);
    }

    private const string SharedGroup = "ingest";

    private static string InstancePrefix(int instance) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}{instance}");

    /// <summary>What every instance of <c>--cluster</c> shares: the cluster on Redis, twins there, the shared group.</summary>
    private static string[] ClusterArgs(DrainOptions options, int redisPort) => options.Cluster == 0 ? [] :
    [
        "--Orleans:Clustering:ProviderType", "Redis",
        "--Orleans:Clustering:ServiceKey", "redis",
        "--Orleans:Reminders:ProviderType", "Redis",
        "--Orleans:Reminders:ServiceKey", "redis",
        "--ConnectionStrings:redis", $"127.0.0.1:{redisPort}",
        "--Orleans:ClusterId", "drain",
        "--Orleans:ServiceId", "drain",
        "--Orleans:AdvertisedAddress", "127.0.0.1",
        "--Twins:Store", "Redis",
        "--Twins:Redis", $"127.0.0.1:{redisPort}",
        "--Broker:SharedGroup", SharedGroup,
    ];

    /// <summary>The service processes of one phase, disposed together, measured as one.</summary>
    private sealed class Instances((ChildProcess Service, HttpClient Http)[] instances) : IAsyncDisposable
    {
        public bool AnyExited => instances.Any(i => i.Service.HasExited);

        public long ResidentBytes() => instances.Sum(i => i.Service.ResidentBytes());

        public TimeSpan CpuTime() => instances.Aggregate(TimeSpan.Zero, (sum, i) => sum + i.Service.CpuTime());

        public async Task<bool> AnyLinesWrittenAsync()
        {
            foreach (var (_, http) in instances)
            {
                if (await LinesWrittenAsync(http) > 0)
                {
                    return true;
                }
            }

            return false;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var (service, http) in instances)
            {
                await service.DisposeAsync();
                http.Dispose();
            }
        }
    }

    private static (ChildProcess Service, HttpClient Http) StartService(
        DrainOptions options, string dll, string dataDirectory, int mqttPort, string[] storeArgs, Dictionary<string, string> environment)
    {
        var httpPort = ChildProcess.FreePort();
        var service = ChildProcess.Start("dotnet",
        [
            dll,
            "--contentRoot", Path.GetDirectoryName(dll)!,
            "--urls", $"http://127.0.0.1:{httpPort}",
            "--Storage:DataDirectory", dataDirectory,
            "--Orleans:SiloPort", Port(ChildProcess.FreePort()),
            "--Orleans:GatewayPort", Port(ChildProcess.FreePort()),
            "--Broker:Mode", "External",
            "--Broker:Host", "127.0.0.1",
            "--Broker:Port", Port(mqttPort),
            "--Broker:ClientIdPrefix", Prefix,
            "--Api:Keys:0", ApiKey,
            "--Logging:LogLevel:Default", "Warning",
            .. storeArgs,
            .. options.ServiceArgs,
        ], environment);
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/"), Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        return (service, http);
    }

    /// <summary>
    /// Steady load at <c>--steady-share</c> (default half) of the rate the files drain reached: <c>--steady-devices</c> devices of the load tool, each
    /// with its own connection and a window of 8, for about <c>--steady-seconds</c>; reports its ack latency.
    /// </summary>
    private static async Task<bool> SteadyAsync(
        DrainOptions options, string dll, string dataDirectory, int mqttPort, int redisPort, double drainReadingsPerSecond, ChildProcess broker)
    {
        var messagesPerSecond = options.SteadyRate > 0
            ? options.SteadyRate
            : Math.Max(1, drainReadingsPerSecond * options.SteadyShare / options.Readings);
        var perDevice = Math.Max(1, (int)(messagesPerSecond * (options.SteadySeconds + options.SteadyWarmup) / options.SteadyDevices));
        // With --cluster, the same instances as the drain (their sessions in the shared group), on the same Redis.
        var running = Enumerable.Range(0, Math.Max(1, options.Cluster))
            .Select(i => StartService(options, dll, options.Cluster == 0 ? dataDirectory : $"{dataDirectory}-{i}", mqttPort,
                options.Cluster == 0 ? [] : [.. ClusterArgs(options, redisPort), "--Broker:ClientIdPrefix", InstancePrefix(i)],
                new Dictionary<string, string>(options.ServiceEnvironment)))
            .ToArray();
        await using var servicesLifetime = new Instances(running);
        var (service, http) = running[0];
        foreach (var (each, client) in running)
        {
            await each.WaitUntilAsync(async () =>
            {
                try
                {
                    using var health = await client.GetAsync(new Uri("health", UriKind.Relative));
                    return health.IsSuccessStatusCode;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(90), "the service");
        }

        if (options.SteadyPrewarm > 0)
        {
            // The same rate from devices of its own, in a load tool process of its own: what follows measures a warm
            // service (its code compiled, its pools grown), while its devices' twins are still new to it.
            var prewarmDevice = Math.Max(1, (int)(messagesPerSecond * options.SteadyPrewarm / options.SteadyDevices));
            await using var prewarm = ChildProcess.Start("dotnet",
            [
                typeof(DrainCommand).Assembly.Location, "load", "--anonymous", "--port", Port(mqttPort), "--prefix", "prewarm",
                "--devices", Port(options.SteadyDevices), "--messages", Port(prewarmDevice), "--readings", Port(options.Readings),
                "--rate", messagesPerSecond.ToString("F1", CultureInfo.InvariantCulture), "--timeout", Port(Math.Max(60, options.SteadyPrewarm * 3)),
            ]);
            await prewarm.WaitUntilAsync(() => Task.FromResult(prewarm.HasExited), TimeSpan.FromMinutes(6), "the pre-warming load");
        }

        var cpuBefore = servicesLifetime.CpuTime();
        await using var load = ChildProcess.Start("dotnet",
        [
            typeof(DrainCommand).Assembly.Location, "load", "--anonymous", "--port", Port(mqttPort), "--prefix", "steady",
            "--devices", Port(options.SteadyDevices), "--messages", Port(perDevice), "--readings", Port(options.Readings),
            "--rate", messagesPerSecond.ToString("F1", CultureInfo.InvariantCulture), "--timeout", Port(Math.Max(60, (options.SteadySeconds + options.SteadyWarmup) * 3)), "--warmup", Port(options.SteadyWarmup),
            // Every device develops a fault half-way (after the warm-up): reading-to-alert, one alert each.
            "--faulty", Port(options.SteadyDevices),
        ]);
        await load.WaitUntilAsync(() => Task.FromResult(load.HasExited), TimeSpan.FromMinutes(6), "the load tool");
        var cpuSeconds = (servicesLifetime.CpuTime() - cpuBefore).TotalSeconds;
        var summary = load.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{')) ?? "{}";
        using var figures = JsonDocument.Parse(summary);
        var root = figures.RootElement;
        var allAcked = root.TryGetProperty("all_acked", out var a) && a.GetBoolean();
        if (!allAcked)
        {
            // Say what the service was doing: its health, its counters and its log.
            var health = await http.GetStringAsync(new Uri("health", UriKind.Relative));
            var stats = await http.GetStringAsync(new Uri("api/ingest/stats", UriKind.Relative));
            await Console.Error.WriteLineAsync(
                $"drain: steady load not all acked; service health: {health}\nstats: {stats}\nlog:\n{service.Output}\nmosquitto:\n{broker.Output}");
        }

        // The subscribers' counters: a stall the service recovered from shows as stalls > 0 and as resends in the load.
        // With --cluster, one per instance: what each took of the shared group's messages.
        var subscribers = new List<string>();
        foreach (var (_, client) in running)
        {
            using var subscriberStats = JsonDocument.Parse(await client.GetStringAsync(new Uri("api/ingest/stats", UriKind.Relative)));
            subscribers.Add(subscriberStats.RootElement.TryGetProperty("subscriber", out var sub) ? sub.GetRawText() : "null");
        }

        var readings = root.TryGetProperty("readings", out var r) ? r.GetDouble() : 0;
        await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{{\"phase\":\"steady\",\"cluster_instances\":{options.Cluster},\"devices\":{options.SteadyDevices},\"offered_messages_per_s\":{messagesPerSecond:F1},\"offered_readings_per_s\":{messagesPerSecond * options.Readings:F0},\"service_cpu_s\":{cpuSeconds:F1},\"cpu_us_per_reading\":{(readings > 0 ? cpuSeconds * 1e6 / readings : 0):F1},\"load\":{summary},\"service_subscribers\":[{string.Join(',', subscribers)}]}}"));
        return allAcked;
    }

    private static LoadOptions LoadFor(DrainOptions options, string boot) => new()
    {
        Devices = options.Devices,
        Messages = options.Messages,
        Readings = options.Readings,
        Prefix = Prefix,
        Anonymous = true,
        Boot = boot,
        BaseMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 3_600_000L,
    };

    private static async Task<long> LinesWrittenAsync(HttpClient http)
    {
        try
        {
            using var stats = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/ingest/stats", UriKind.Relative)));
            return stats.RootElement.GetProperty("storage").GetProperty("lines_written").GetInt64();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }

    private static Dictionary<string, long> LineFileLengths(string directory) =>
        Directory.Exists(directory)
            ? Directory.GetFiles(directory, "*.lp").ToDictionary(f => f, f => new FileInfo(f).Length, StringComparer.Ordinal)
            : new Dictionary<string, long>(StringComparer.Ordinal);

    /// <summary>The reading lines of <paramref name="boot"/> appended to the day files since <paramref name="before"/>
    /// (alerts are stored as lines too).</summary>
    private static string[] NewLines(string directory, Dictionary<string, long> before, string boot)
    {
        var lines = new List<string>();
        foreach (var file in Directory.Exists(directory) ? Directory.GetFiles(directory, "*.lp").Order(StringComparer.Ordinal).ToArray() : [])
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            stream.Position = before.GetValueOrDefault(file);
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                if (line.StartsWith("shoe,", StringComparison.Ordinal) && line.Contains(boot, StringComparison.Ordinal))
                {
                    lines.Add(line);
                }
            }
        }

        return [.. lines];
    }

    private static async Task<(ChildProcess Process, int Port)> StartInfluxAsync(string work, string? cpus)
    {
        var port = ChildProcess.FreePort();
        var directory = Path.Combine(work, "influx");
        Directory.CreateDirectory(directory);
        var configuration = Path.Combine(directory, "influxdb.conf");
        await File.WriteAllTextAsync(configuration, $"""
            reporting-disabled = true
            bind-address = "127.0.0.1:{ChildProcess.FreePort()}"
            [meta]
              dir = "{directory}/meta"
            [data]
              dir = "{directory}/data"
              wal-dir = "{directory}/wal"
              query-log-enabled = false
            [monitor]
              store-enabled = false
            [http]
              bind-address = "127.0.0.1:{port}"
              log-enabled = false
            [continuous_queries]
              enabled = false
            """);
        var influx = cpus is null
            ? ChildProcess.Start("influxd", ["-config", configuration])
            // Set at exec, so that every thread influxd starts inherits it.
            : ChildProcess.Start("taskset", ["-c", cpus, "influxd", "-config", configuration]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        await influx.WaitUntilAsync(async () =>
        {
            try
            {
                using var response = await http.GetAsync(new Uri("ping", UriKind.Relative));
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "influxd");
        return (influx, port);
    }

    /// <summary>
    /// What InfluxDB takes from a plain client: the same lines in 5000-line batches, gzipped before the clock
    /// starts (as files handed to curl would be), posted by two writers.
    /// </summary>
    private static async Task<double> HttpReferenceAsync(int port, string database, string[] lines, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromMinutes(2) };
        using (var create = await http.PostAsync(new Uri("query", UriKind.Relative), new FormUrlEncodedContent([new("q", $"CREATE DATABASE \"{database}\"")]), cancellationToken))
        {
            create.EnsureSuccessStatusCode();
        }

        var batches = lines.Chunk(5000).Select(chunk =>
        {
            using var compressed = new MemoryStream();
            using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                gzip.Write(Encoding.UTF8.GetBytes(string.Join('\n', chunk) + "\n"));
            }

            return compressed.ToArray();
        }).ToArray();
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < batches.Length; i = Interlocked.Increment(ref next))
            {
                using var content = new ByteArrayContent(batches[i]);
                content.Headers.ContentEncoding.Add("gzip");
                content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
                using var response = await http.PostAsync(new Uri($"write?db={database}&precision=ms", UriKind.Relative), content, cancellationToken);
                response.EnsureSuccessStatusCode();
            }
        }, cancellationToken)));
        return lines.Length / clock.Elapsed.TotalSeconds;
    }

    private static async Task<long> CountAsync(int port, string database, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        var query = Uri.EscapeDataString($"SELECT count(seq) FROM shoe WHERE device =~ /^{Prefix}-/");
        using var result = JsonDocument.Parse(await http.GetStringAsync(new Uri($"query?db={database}&q={query}", UriKind.Relative), cancellationToken));
        var row = result.RootElement.GetProperty("results")[0];
        return row.TryGetProperty("series", out var series) ? series[0].GetProperty("values")[0][1].GetInt64() : 0;
    }

    private static async Task RunToEndAsync(string file, string[] args)
    {
        await using var process = ChildProcess.Start(file, args);
        await process.WaitUntilAsync(() => Task.FromResult(process.HasExited), TimeSpan.FromMinutes(10), file);
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Telemetry.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }
}
