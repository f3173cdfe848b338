using System.Diagnostics;
using System.Globalization;
using System.Net;
using Xunit;
using Xunit.Abstractions;

namespace Telemetry.ChaosTests;

/// <summary>
/// Issue #11's chaos suite: each scenario puts the real service under load from the load tool, injects one
/// fault into a real server, and ends with set accounting (nothing acked is missing from the store, nothing is
/// applied twice to a twin). Run one with <c>dotnet test tests/Telemetry.ChaosTests -c Release --filter Scenario=ServiceKill</c>.
/// The scenarios run one after another (one class): each takes the machine's cores for a minute or two.
/// </summary>
public sealed class ChaosScenarioTests(ITestOutputHelper output)
{
    /// <summary>The service's resident-memory bound under these loads, stated for every scenario that measures it.</summary>
    public const double MemoryBoundMiB = 1024;

    private static readonly TimeSpan LoadBound = TimeSpan.FromMinutes(4);
    private static readonly TimeSpan SettleBound = TimeSpan.FromSeconds(60);

    /// <summary>The last run's settled accounting (<see cref="RunAsync"/>).</summary>
    private Accounting? _accounting;

    [Fact]
    [Trait("Scenario", "ServiceKill")]
    public async Task ServiceKilledMidLoad_RestartedService_LosesNothingAndAppliesNothingTwice()
    {
        await using var stack = new ChaosServers("ck1", 50);
        await stack.StartAsync();
        var record = new ScenarioRecord("ServiceKill", "50 devices × 100 messages × 10 readings at 100 msg/s", "service kill -9 after 10,000 readings stored, restarted at once");
        await RunAsync(stack, record, ["--devices", "50", "--messages", "100", "--readings", "10", "--rate", "100", "--timeout", "200"], faultAt: 10_000, async () =>
        {
            await stack.Service.StopAsync(kill: true);
            await stack.Service.StartAsync();
        });
    }

    [Fact]
    [Trait("Scenario", "MosquittoKill")]
    public async Task MosquittoKilledMidLoadWithoutPersistence_DevicesResendWhatWasNotAcked_NothingLost()
    {
        await using var stack = new ChaosServers("ck2", 50, mosquittoConfig: "persistence false\n");
        await stack.StartAsync();
        var record = new ScenarioRecord("MosquittoKill", "50 devices × 100 messages × 10 readings at 100 msg/s", "Mosquitto (persistence off) kill -9 after 10,000 readings stored, restarted on the same ports 2 s later");
        var result = await RunAsync(stack, record, ["--devices", "50", "--messages", "100", "--readings", "10", "--rate", "100", "--timeout", "200"], faultAt: 10_000, async () =>
        {
            await stack.Mosquitto.StopAsync(kill: true);
            await Task.Delay(TimeSpan.FromSeconds(2));
            await stack.Mosquitto.StartAsync();
        });
        Assert.True(result.Count("reconnects") >= 50, $"every device should have reconnected by itself; reconnects: {result.Count("reconnects")}");
    }

    [Fact]
    [Trait("Scenario", "InfluxDown")]
    public async Task InfluxDownThirtySecondsUnderLoad_MemoryBounded_EverythingStoredOnce()
    {
        await using var stack = new ChaosServers("ck3", 50);
        await stack.StartAsync();
        var record = new ScenarioRecord("InfluxDown", "50 devices × 100 messages × 10 readings at 100 msg/s", "InfluxDB kill -9 after 10,000 readings stored, restarted 30 s later");
        await RunAsync(stack, record, ["--devices", "50", "--messages", "100", "--readings", "10", "--rate", "100", "--timeout", "200"], faultAt: 10_000, async () =>
        {
            await stack.Influx!.StopAsync(kill: true);
            await Task.Delay(TimeSpan.FromSeconds(30));
            await stack.Influx.StartAsync();
        });
    }

    [Fact]
    [Trait("Scenario", "RedisDown")]
    public async Task RedisTwinStoreDownTenSecondsUnderLoad_IngestResumesByItself()
    {
        await using var stack = new ChaosServers("ck4", 50, redis: true);
        await stack.StartAsync();
        var record = new ScenarioRecord("RedisDown", "50 devices × 100 messages × 10 readings at 100 msg/s, twins in Redis (AOF, fsync always)", "Redis kill -9 after 10,000 readings stored, restarted on the same port 10 s later");
        await RunAsync(stack, record, ["--devices", "50", "--messages", "100", "--readings", "10", "--rate", "100", "--timeout", "200"], faultAt: 10_000, async () =>
        {
            await stack.Redis!.StopAsync(kill: true);
            await Task.Delay(TimeSpan.FromSeconds(10));
            await stack.Redis.StartAsync();
        });
    }

    [Fact]
    [Trait("Scenario", "DiskFull")]
    public async Task DataDirectoryFullForAWhile_HealthUnhealthy_NothingAckedThatIsNotStored_Recovers()
    {
        await using var stack = new ChaosServers("ck5", 50, influx: false);
        var dataDirectory = stack.Service.DataDirectory;
        Directory.CreateDirectory(dataDirectory);
        // Tests run as root, so permissions stop nothing: a small tmpfs is a disk that really fills up.
        await RunToolAsync("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", dataDirectory);
        try
        {
            await stack.StartAsync();
            var filler = Path.Combine(dataDirectory, "filler");
            var unhealthyAfter = (double?)null;
            var record = new ScenarioRecord("DiskFull", "50 devices × 100 messages × 10 readings at 100 msg/s, line files on a 24 MiB tmpfs", "data directory filled to the last byte after 10,000 readings stored, freed 20 s later");
            await RunAsync(stack, record, ["--devices", "50", "--messages", "100", "--readings", "10", "--rate", "100", "--timeout", "200"], faultAt: 10_000, async () =>
            {
                Fill(filler);
                unhealthyAfter = await SecondsUntilAsync(async () => await stack.HealthAsync() == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30));
                record.Note("health_503_after_s", unhealthyAfter is { } s ? s.ToString("0.0", CultureInfo.InvariantCulture) : "never within 30 s");
                await Task.Delay(TimeSpan.FromSeconds(20));
                File.Delete(filler);
            });
            Assert.True(unhealthyAfter is not null, "GET /health should answer 503 while the data directory is full");
        }
        finally
        {
            await stack.Service.StopAsync(kill: true);
            await RunToolAsync("umount", dataDirectory);
        }
    }

    [Fact]
    [Trait("Scenario", "Overload")]
    public async Task TenTimesOverloadForSixtySeconds_MemoryBounded_EveryMessageWrittenRejectedOrHeld()
    {
        // Each device may send 2 messages/s (burst 10); the load offers 20/s per device for 60 s.
        await using var stack = new ChaosServers("ck6", 20, serviceArgs: ["--Uplink:RateLimitPerSecond", "2", "--Uplink:RateLimitBurst", "10"]);
        await stack.StartAsync();
        var record = new ScenarioRecord("Overload", "20 devices offering 20 msg/s each (400 msg/s, 10 readings) for 60 s, window 100, resend after 2 s", "service rate limit 2 msg/s per device (burst 10): 10× overload");
        var result = await RunAsync(stack, record, ["--devices", "20", "--messages", "2000", "--readings", "10", "--rate", "400", "--window", "100", "--resend-after", "2", "--timeout", "60"], faultAt: null, () => Task.CompletedTask, expectAllAcked: false);
        Assert.True(result.Count("rate_limited") > 0, "the overload should have been refused with rate_limited");
        Assert.Equal(result.Count("messages_sent"), result.Count("messages_acked") + result.Count("messages_held"));
        Assert.Empty(result.Summary.GetProperty("messages_rejected").EnumerateObject());
    }

    [Fact]
    [Trait("Scenario", "ClockSlow")]
    public async Task ServiceClockTenMinutesSlow_NothingAckedThatIsNotStored()
    {
        await using var stack = new ChaosServers("ck7", 50, serviceArgs: ["--Clock:Offset", "-00:10:00"]);
        await stack.StartAsync();

        // A reading one minute ahead is fine for a right clock and 11 minutes ahead for one 10 minutes slow: if
        // it is acked without complaint, the service did not take the option and the scenario would prove nothing.
        var probeAt = DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        await using (var probe = stack.StartLoad("--prefix", "ck7probe", "--devices", "1", "--messages", "1", "--readings", "1", "--base-ms", probeAt, "--timeout", "8"))
        {
            var answer = await probe.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.False(answer.ExitCode == 0 && !answer.Summary.GetProperty("readings_rejected").EnumerateObject().Any(),
                "the service acked a reading 1 minute ahead without complaint: it does not run 10 minutes slow (--Clock:Offset not applied)");
        }

        // Readings from 64 to 4 minutes ago: the newest minute is ahead of the slow clock's 5-minute window.
        var baseMs = DateTimeOffset.UtcNow.AddMinutes(-64).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var record = new ScenarioRecord("ClockSlow", "50 devices × 60 messages × 10 readings at 100 msg/s, readings 64 to 4 minutes old", "service clock 10 minutes slow (--Clock:Offset -00:10:00) from start-up");
        await RunAsync(stack, record, ["--devices", "50", "--messages", "60", "--readings", "10", "--rate", "100", "--base-ms", baseMs, "--timeout", "180"], faultAt: null, () => Task.CompletedTask);
    }

    [Fact]
    [Trait("Scenario", "InfluxHung")]
    public async Task InfluxAcceptingButNeverAnsweringFromStartUp_ServiceStaysUp_EverythingWrittenAfterwards()
    {
        await using var stack = new ChaosServers("ck8", 30);
        await stack.StartAsync(service: false);
        var influxPid = stack.Influx!.ProcessId!.Value;
        await ProcessSignals.SendAsync(influxPid, "STOP");
        var frozen = Stopwatch.StartNew();
        try
        {
            await StartServiceAnsweringAsync(stack);
        }
        catch
        {
            await ProcessSignals.SendAsync(influxPid, "CONT");
            throw;
        }

        var servicePid = stack.Service.ProcessId!.Value;
        var record = new ScenarioRecord("InfluxHung", "30 devices × 60 messages × 10 readings at 60 msg/s", "InfluxDB SIGSTOPped before the service starts (connections accepted, never answered), SIGCONT 110 s later");
        var diedAfter = (double?)null;
        await RunAsync(stack, record, ["--devices", "30", "--messages", "60", "--readings", "10", "--rate", "60", "--timeout", "230"], faultAt: null, async () =>
        {
            // Longer than HttpClient's default 100 s timeout, which a call without its own would wait for.
            while (frozen.Elapsed < TimeSpan.FromSeconds(110) && diedAfter is null)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                diedAfter = ProcessSignals.IsAlive(servicePid) ? null : frozen.Elapsed.TotalSeconds;
            }

            await ProcessSignals.SendAsync(influxPid, "CONT");
            record.Note("service_died_after_s", diedAfter is { } d ? d.ToString("0", CultureInfo.InvariantCulture) : "stayed up");
            Assert.True(diedAfter is null, $"the service exited {diedAfter:0} s after start while InfluxDB hung:\n{stack.Service.Output}");
        });
    }

    [Fact]
    [Trait("Scenario", "ClusterKill")]
    public async Task TwoInstancesShareTheLoad_OneKilledMidLoadAndRestarted_NothingLostNothingAppliedTwice()
    {
        // Issue #13: a cluster on Redis (membership and twins), the devices' messages split by a Mosquitto shared group.
        // Deadlines of 20 s: every device wears past 70% and 60% cushioning during the run (about 1 km a reading), so
        // alerts are raised before and after the kill, and the deadlines of all of them pass within the test.
        await using var stack = new ChaosServers("ck9", 50, influx: true, redis: true, cluster: true, mosquittoConfig: null,
            "--Alerts:Sla:Critical", "00:00:20", "--Alerts:Sla:Warning", "00:00:20");
        await stack.StartAsync();
        // One cluster, not two lone silos: the second instance joined the first.
        Assert.Equal(2, (await ClusterAsync(stack.Peer!)).GetProperty("active").GetInt32());
        var record = new ScenarioRecord("ClusterKill", "2 instances, shared group, 50 devices × 100 messages × 10 readings at 100 msg/s",
            "both instances away for the load's first 10 s (a backlog in their sessions), then started; the second kill -9 " +
            "once 10,000 readings are stored, restarted on its ports and session 10 s later");
        // Both leave before the load, so that it first builds a backlog in their persistent sessions for them to drain.
        await stack.Service.StopAsync();
        await stack.Peer!.StopAsync();
        long first = 0, second = 0;
        await RunAsync(stack, record, ["--devices", "50", "--messages", "100", "--readings", "10", "--rate", "100", "--timeout", "200"], faultAt: null, async () =>
        {
            // A schedule, not a wait for an effect: 10 s of load (about 1,000 messages and their resends) queue meanwhile.
            await Task.Delay(TimeSpan.FromSeconds(10));
            await Task.WhenAll(stack.Service.StartAsync(), stack.Peer.StartAsync());
            var drained = await SecondsUntilAsync(async () => await StoredOrZeroAsync(stack) >= 10_000, TimeSpan.FromSeconds(90));
            Assert.True(drained is not null, "10,000 readings were not stored within 90 s of the instances' start");
            first = (await stack.Service.StatsAsync()).GetProperty("messages").GetInt64();
            second = (await stack.Peer.StatsAsync()).GetProperty("messages").GetInt64();
            record.Note("messages_by_instance_before_kill", $"{first}, {second}");
            await stack.Peer.StopAsync(kill: true);
            await Task.Delay(TimeSpan.FromSeconds(10));
            await stack.Peer.StartAsync();
        });

        // Each took its part: the broker shared the devices' messages between the two.
        Assert.True(first > 0 && second > 0, $"messages handled before the kill: {first} and {second}");
        // The restarted instance is back in the cluster, and the one it replaced is no longer counted active.
        var rejoined = await SecondsUntilAsync(async () => (await ClusterAsync(stack.Service)).GetProperty("active").GetInt32() == 2, TimeSpan.FromSeconds(60));
        Assert.True(rejoined is not null, $"the first instance does not count two active silos: {await ClusterAsync(stack.Service)}");
        // Stored once: a reading stored under two sets of tags (one instance had not seen the birth the other applied)
        // is two points in InfluxDB.
        if (_accounting!.ReadingsAcked != _accounting.ReadingsStored)
        {
            using var http = new HttpClient { BaseAddress = stack.Influx!.Url };
            var q = await http.PostAsync(new Uri("query?epoch=ms", UriKind.Relative), new FormUrlEncodedContent([new("db", ChaosServers.Database), new("q", "SELECT count(seq) FROM shoe WHERE device =~ /^ck9-/ GROUP BY *")]));
            output.WriteLine("points by device and tags: " + await q.Content.ReadAsStringAsync());
        }

        Assert.Equal(_accounting!.ReadingsAcked, _accounting.ReadingsStored);

        // SLA deadlines still fire, wherever the alert index was when its instance died (its reminder, or the restart,
        // brings it back): in the end no alert is left raised past its deadline, and no device has two open alerts of
        // one code (the device grain, not the instance that handled a message, decides).
        IReadOnlyList<System.Text.Json.JsonElement> alerts = [];
        var escalatedIn = await SecondsUntilAsync(async () =>
        {
            alerts = await AlertsAsync(stack);
            return alerts.Count >= 50 && alerts.All(a => a.GetProperty("state").GetString() != "raised");
        }, TimeSpan.FromSeconds(150));
        var open = alerts.Where(a => a.GetProperty("state").GetString() != "resolved").ToList();
        output.WriteLine($"alerts: {alerts.Count}, open {open.Count}, escalated {open.Count(a => a.GetProperty("state").GetString() == "escalated")}, all past their deadline within {escalatedIn:0.#} s of the load's end");
        Assert.True(escalatedIn is not null, "alerts still raised 150 s after the load, past their 20 s deadline: " +
            string.Join(", ", alerts.Where(a => a.GetProperty("state").GetString() == "raised").Select(a => $"{a.GetProperty("device")}/{a.GetProperty("code")}")));
        var twice = open.GroupBy(a => (a.GetProperty("device").GetString(), a.GetProperty("code").GetString())).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(twice.Count == 0, $"devices with two open alerts of one code: {string.Join(", ", twice)}");
        Assert.Equal(50, open.Select(a => a.GetProperty("device").GetString()).Distinct().Count());
        Assert.All(open, a => Assert.Equal("escalated", a.GetProperty("state").GetString()));

        // The live feed of the instance never killed carries the whole cluster's alerts, not only those of the grains
        // it holds: every device's escalation, whichever instance's grain made it.
        var missing = await EscalationsMissingFromFeedAsync(stack.Service, open.Select(a => a.GetProperty("device").GetString()!).ToHashSet());
        Assert.True(missing.Count == 0, $"escalations missing from the first instance's /api/alerts/stream: {string.Join(", ", missing)}");
    }

    /// <summary>Reads the SSE stream (it starts with the events it holds) until every device's escalation came, or 60 s.</summary>
    private static async Task<HashSet<string>> EscalationsMissingFromFeedAsync(Telemetry.IntegrationTests.ServiceProcess service, HashSet<string> devices)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var response = await service.Http.GetAsync(new Uri("api/alerts/stream", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var stream = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        try
        {
            while (devices.Count > 0 && await stream.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    var alert = System.Text.Json.JsonDocument.Parse(line[6..]).RootElement;
                    if (alert.GetProperty("state").GetString() == "escalated")
                    {
                        devices.Remove(alert.GetProperty("device").GetString()!);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
        }

        return devices;
    }

    /// <summary>Every alert the cluster's index holds (at most 1000: this scenario raises about 100).</summary>
    private static async Task<IReadOnlyList<System.Text.Json.JsonElement>> AlertsAsync(ChaosServers stack)
    {
        // The first instance is the one never killed.
        using var document = System.Text.Json.JsonDocument.Parse(await stack.Service.Http.GetStringAsync(new Uri("api/alerts?limit=1000", UriKind.Relative)));
        return document.RootElement.EnumerateArray().Select(a => a.Clone()).ToList();
    }

    /// <summary>
    /// The common shape: start the load; once <paramref name="faultAt"/> readings are stored (or at once), inject
    /// the fault and time the recovery (the store growing again); wait for the load; settle and account; record;
    /// assert lost = 0, duplicates = 0, memory within its bound and, unless told otherwise, every message acked.
    /// </summary>
    private async Task<LoadResult> RunAsync(ChaosServers stack, ScenarioRecord record, string[] load, long? faultAt, Func<Task> fault, bool expectAllAcked = true)
    {
        await using var memory = new MemoryWatch(() => stack.Service.ProcessId);
        await using var run = stack.StartLoad(load);
        LoadResult? result = null;
        Accounting? accounting = null;
        try
        {
            if (faultAt is { } readings)
            {
                var started = await SecondsUntilAsync(async () => await stack.StoredTotalAsync() >= readings, TimeSpan.FromSeconds(90));
                Assert.True(started is not null, $"{readings} readings were not stored within 90 s of the load's start; the fault was never injected");
            }

            await fault();
            var storedAfterFault = await StoredOrZeroAsync(stack);
            record.RecoverySeconds = run.HasExited ? null : await SecondsUntilAsync(async () => await StoredOrZeroAsync(stack) > storedAfterFault || run.HasExited, TimeSpan.FromSeconds(120));
            result = await run.WaitAsync(LoadBound);
            accounting = await stack.SettledAccountingAsync(result, SettleBound);
            _accounting = accounting;
        }
        finally
        {
            var alive = stack.ServiceAlive;
            record.Note("service_alive_at_end", alive ? "yes" : "no");
            if (!alive || result?.ExitCode != 0)
            {
                record.Note("service_log_tail", string.Join('\n', stack.Service.Output.Split('\n').TakeLast(12)));
            }

            record.Write(output, result, accounting, memory.PeakMiB);
        }

        Assert.True(accounting.TwinsUnreadable is null, $"{accounting.TwinsUnreadable}; the service exited?\n{stack.Service.Output}");
        Assert.Equal(0, accounting.Lost);
        Assert.Equal(0, accounting.Duplicates);
        Assert.True(memory.PeakMiB <= MemoryBoundMiB, $"peak RSS {memory.PeakMiB:0} MiB is over the {MemoryBoundMiB} MiB bound");
        if (expectAllAcked)
        {
            Assert.True(result.ExitCode == 0, $"not every message was acked: {result.Summary}");
            Assert.Equal(0, accounting.TwinMissing);
        }

        return result;
    }

    private static async Task<System.Text.Json.JsonElement> ClusterAsync(Telemetry.IntegrationTests.ServiceProcess service) =>
        System.Text.Json.JsonDocument.Parse(await service.Http.GetStringAsync(new Uri("api/cluster", UriKind.Relative))).RootElement;

    private static async Task<long> StoredOrZeroAsync(ChaosServers stack)
    {
        try
        {
            return await stack.StoredTotalAsync();
        }
        catch (HttpRequestException)
        {
            return 0;
        }
        catch (InvalidOperationException e) when (e.Message.Contains("database not found", StringComparison.Ordinal))
        {
            // InfluxDB was down from before the service started: the service creates the database once it answers,
            // which may be a moment after the test lets it go. Until then nothing is stored.
            return 0;
        }
    }

    /// <summary>Seconds until <paramref name="condition"/> holds, polled every 250 ms; null if it did not within the bound.</summary>
    private static async Task<double?> SecondsUntilAsync(Func<Task<bool>> condition, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            if (await condition())
            {
                return clock.Elapsed.TotalSeconds;
            }

            await Task.Delay(250);
        }

        return null;
    }

    /// <summary>The service with a dependency down may answer /health 503 from the start: it is up once it answers at all.</summary>
    private static async Task StartServiceAnsweringAsync(ChaosServers stack)
    {
        try
        {
            await stack.Service.StartAsync(TimeSpan.FromSeconds(60));
        }
        catch (InvalidOperationException) when (stack.Service.ProcessId is { } pid && ProcessSignals.IsAlive(pid))
        {
            if (await stack.HealthAsync() == 0)
            {
                throw new InvalidOperationException($"the service does not answer /health 60 s after start while InfluxDB hangs:\n{stack.Service.Output}");
            }
        }
    }

    /// <summary>Writes until the file system refuses: ENOSPC, for root too.</summary>
    private static void Fill(string path)
    {
        var block = new byte[1 << 16];
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        try
        {
            while (true)
            {
                file.Write(block);
            }
        }
        catch (IOException)
        {
        }
    }

    private static async Task RunToolAsync(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {error}");
    }
}
