using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Telemetry.Ingest.Broker;

namespace Telemetry.Bench.Load;

/// <summary>
/// <c>bench -- load</c>: plays <c>--devices</c> real devices against a broker and the service behind it, then
/// prints one JSON line of figures. Exit code 0 only when every message was acknowledged by the service;
/// 1 when the run timed out with messages still held by their devices; 2 for a bad command line.
/// </summary>
internal static class LoadCommand
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(5);

    public static Command Create() => LoadOptions.Command(RunAsync);

    private static async Task<int> RunAsync(LoadOptions options)
    {
        // The same derivation the embedded broker checks against (docs/uplink.md, Credentials).
        string? secret;
        try
        {
            secret = options.DeviceSecretFile is { } file ? (await File.ReadAllTextAsync(file)).Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"load: cannot read the device secret: {e.Message}");
            return 2;
        }

        var time = TimeProvider.System;
        var counters = new LoadCounters(options.Warmup);
        var pacer = new Pacer(options.Rate, time);
        // Connecting is the expensive step for a broker (TLS, password hashing): a fleet connects in waves.
        using var connectGate = new SemaphoreSlim(64);
        var devices = Enumerable.Range(0, options.Devices)
            .Select(i =>
            {
                var id = options.DeviceId(i);
                var password = secret is not null ? DeviceCredentials.Token(id, secret) : options.Password;
                return new LoadDevice(options, i, password, counters, pacer, connectGate, time);
            })
            .ToList();

        using var stop = new CancellationTokenSource(options.Timeout);
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        AlertWatch? alerts = null;
        if (options.Faulty > 0)
        {
            try
            {
                alerts = await AlertWatch.StartAsync(options, counters, time, stop.Token);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await Console.Error.WriteLineAsync($"load: reading-to-alert is not measured: {e.Message}");
            }
        }

        var clock = Stopwatch.StartNew();
        var playing = Task.WhenAll(devices.Select(d => Task.Run(() => d.RunAsync(stop.Token))));
        // Progress on standard error, so that standard output stays the one JSON line scripts read.
        var total = (long)options.Devices * options.Messages;
        while (await Task.WhenAny(playing, Task.Delay(ProgressInterval, CancellationToken.None)) != playing)
        {
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"[{clock.Elapsed.TotalSeconds,6:F1} s] {counters.MessagesAcked}/{total} messages acked, {counters.Resends} resends, {counters.Reconnects} reconnects"));
        }

        await playing;
        var seconds = clock.Elapsed.TotalSeconds;

        // Every faulty message is acked, so its alert is out (the twin publishes it before it acks); give the broker
        // a moment to pass the last ones on.
        for (var wait = 0; alerts is not null && counters.AlertsTimed < counters.FaultsSent && wait < 100; wait++)
        {
            await Task.Delay(100, CancellationToken.None);
        }

        if (alerts is not null)
        {
            await alerts.DisposeAsync();
        }

        var allAcked = devices.All(d => d.Done);
        await Console.Out.WriteLineAsync(Summary(options, counters, devices, seconds, allAcked));
        if (options.ReportFile is { } report)
        {
            await File.WriteAllTextAsync(report, Report(options, devices));
        }

        foreach (var device in devices)
        {
            device.Dispose();
        }

        return allAcked ? 0 : 1;
    }

    private static string Summary(LoadOptions options, LoadCounters counters, List<LoadDevice> devices, double seconds, bool allAcked)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("devices", options.Devices);
            w.WriteNumber("messages_sent", counters.MessagesSent);
            w.WriteNumber("messages_acked", counters.MessagesAcked);
            w.WriteNumber("messages_held", devices.Sum(d => d.MessagesHeld));
            w.WriteNumber("resends", counters.Resends);
            w.WriteNumber("readings", counters.ReadingsAcked);
            w.WriteNumber("readings_sent", counters.ReadingsSent);
            w.WriteNumber("readings_acked", counters.ReadingsAcked);
            w.WriteNumber("seconds", Math.Round(seconds, 3));
            w.WriteNumber("readings_per_s", Math.Round(counters.ReadingsAcked / Math.Max(seconds, 0.001), 1));
            w.WriteNumber("ack_p50_ms", Math.Round(counters.AckPercentileMs(0.50), 1));
            w.WriteNumber("ack_p99_ms", Math.Round(counters.AckPercentileMs(0.99), 1));
            w.WriteNumber("ack_max_ms", Math.Round(counters.AckPercentileMs(1), 1));
            w.WriteNumber("warmup_s", options.Warmup.TotalSeconds);
            w.WriteNumber("ack_p99_ms_with_warmup", Math.Round(counters.AckPercentileMs(0.99, withWarmup: true), 1));
            w.WriteStartArray("ack_p99_ms_by_10s");
            foreach (var p99 in counters.AckP99MsBy10Seconds())
            {
                w.WriteNumberValue(p99);
            }

            w.WriteEndArray();
            if (options.Faulty > 0)
            {
                w.WriteNumber("faults_sent", counters.FaultsSent);
                w.WriteNumber("alerts_timed", counters.AlertsTimed);
                w.WriteNumber("alert_p50_ms", Math.Round(counters.AlertPercentileMs(0.50), 1));
                w.WriteNumber("alert_p99_ms", Math.Round(counters.AlertPercentileMs(0.99), 1));
                w.WriteNumber("alert_max_ms", Math.Round(counters.AlertPercentileMs(1), 1));
            }

            w.WriteNumber("rate_limited", counters.RateLimitedCount);
            WriteCounts(w, "messages_rejected", counters.MessagesRejected);
            WriteCounts(w, "readings_rejected", counters.ReadingsRejected);
            w.WriteNumber("reconnects", counters.Reconnects);
            w.WriteNumber("connect_failures", counters.ConnectFailures);
            w.WriteString("boot", options.Boot);
            w.WriteNumber("base_ms", options.BaseMs);
            w.WriteBoolean("all_acked", allAcked);
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteCounts(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, long> counts)
    {
        w.WriteStartObject(name);
        foreach (var (reason, count) in counts.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            w.WriteNumber(reason, count);
        }

        w.WriteEndObject();
    }

    /// <summary>Per device, what the service acknowledged: the input of a chaos test's set accounting.</summary>
    private static string Report(LoadOptions options, List<LoadDevice> devices)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("boot", options.Boot);
            w.WriteNumber("base_ms", options.BaseMs);
            w.WriteNumber("readings_per_message", options.Readings);
            // Reading n of a device (n = seq × readings_per_message + index) has timestamp base_ms + n × step_ms.
            w.WriteNumber("step_ms", options.StepMs);
            w.WriteStartArray("devices");
            foreach (var device in devices)
            {
                var acked = device.AckedUpTo;
                w.WriteStartObject();
                w.WriteString("id", device.Id);
                w.WriteString("boot", options.Boot);
                w.WriteNumber("acked_seq", acked);
                w.WriteNumber("messages_sent", device.MessagesSent);
                w.WriteNumber("readings_sent", device.MessagesSent * options.Readings);
                w.WriteNumber("readings_acked", (acked + 1) * options.Readings);
                w.WriteNumber("readings_rejected", device.ReadingsRejected);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
