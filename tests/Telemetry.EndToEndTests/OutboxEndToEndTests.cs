using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Mqtt;
using Telemetry.Ingest.Webhooks;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// Issue 11, items 5 and 6, through the running service: alert events survive failed deliveries and a restart
/// between the twin's write and the delivery, keep their event id, reach a signed webhook; acks name missing seqs.
/// </summary>
public sealed class OutboxEndToEndTests
{
    private const string Secret = "outbox-e2e-webhook-secret";

    [Fact]
    public async Task AnAlertSinkThatFailsAtFirst_DeliversTheEventLater_WithTheSameEventId_ToMqttAndASignedWebhook()
    {
        var sink = new FlakySink(failFirst: 3);
        await using var receiver = await WebhookReceiver.StartAsync((_, _) => 200);
        await using var host = await StartAsync(sink, receiver.Url);
        await using var watcher = await host.WatcherAsync("flaky", "alerts/#");
        await using var device = await host.DeviceAsync("shoe-flaky", "devices/shoe-flaky/ack");

        await CrossCushioningThresholdAsync(device, "shoe-flaky");

        // The round is stored, so the device is acked although delivery of its alert failed.
        await device.ReceiveAsync("devices/shoe-flaky/ack", a => a.GetProperty("seq").GetUInt32() == 0, "the ack");
        var alert = await watcher.ReceiveAsync("alerts/shoe-flaky", a => a.GetProperty("state").GetString() == "raised", "the raised alert");
        var eventId = alert.GetProperty("event_id").GetString()!;
        Assert.StartsWith(alert.GetProperty("id").GetString() + ":", eventId, StringComparison.Ordinal);

        var hook = await receiver.NextAsync("the webhook request");
        Assert.Equal(eventId, hook.EventId);
        Assert.True(WebhookSignature.Verify(Secret, hook.Timestamp, hook.Body, hook.Signature), "the webhook signature verifies with the secret");
        Assert.Equal(eventId, JsonDocument.Parse(hook.Body).RootElement.GetProperty("event_id").GetString());
        Assert.Equal("shoe.cushioning.replace_soon", JsonDocument.Parse(hook.Body).RootElement.GetProperty("code").GetString());

        // Three failures, then the delivery: four attempts at the same event, the last one through.
        Assert.Equal([eventId, eventId, eventId, eventId], sink.Attempts);
        Assert.Equal([eventId], sink.Delivered);

        using var client = Client(host);
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(20); ; await Task.Delay(50))
        {
            var stats = JsonDocument.Parse(await client.GetStringAsync(new Uri("/api/ingest/stats", UriKind.Relative))).RootElement;
            var webhook = stats.GetProperty("webhooks").GetProperty("0");
            if (webhook.GetProperty("delivered").GetInt64() == 1)
            {
                Assert.Equal(0, webhook.GetProperty("pending").GetInt64());
                break;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"the webhook's delivery is not counted on the stats: {webhook}");
        }
    }

    [Fact]
    public async Task AnEventStoredButNeverDelivered_IsDeliveredAfterARestart_WithoutTheDeviceSendingAgain()
    {
        var sink = new FlakySink(failFirst: int.MaxValue);
        await using var host = await StartAsync(sink, webhook: null);
        string eventId;
        await using (var device = await host.DeviceAsync("shoe-crash", "devices/shoe-crash/ack"))
        {
            await CrossCushioningThresholdAsync(device, "shoe-crash");
            await device.ReceiveAsync("devices/shoe-crash/ack", a => a.GetProperty("seq").GetUInt32() == 0, "the ack");
            eventId = await sink.FirstAttemptAsync();
        }

        // As after a crash between the twin's write and the delivery: the event exists only in the stored twin.
        sink.Heal();
        await host.RestartAsync();
        await using var watcher = await host.WatcherAsync("crash", "alerts/#");

        Assert.Equal(eventId, await sink.NextDeliveredAsync());
        using var client = Client(host);
        using var alerts = await client.GetAsync(new Uri("/api/alerts?device=shoe-crash", UriKind.Relative));
        Assert.Contains(eventId.Split(':')[0], await alerts.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheAck_NamesTheMissingSeqs_AndDropsThemOnceResent()
    {
        await using var host = await StartAsync(new FlakySink(0), webhook: null);
        await using var device = await host.DeviceAsync("shoe-gap", "devices/shoe-gap/ack");

        await device.PublishAsync("devices/shoe-gap/telemetry", Message(0));
        await device.PublishAsync("devices/shoe-gap/telemetry", Message(2));
        await device.PublishAsync("devices/shoe-gap/telemetry", Message(5));

        var gapped = await device.ReceiveAsync("devices/shoe-gap/ack", a => a.TryGetProperty("missing", out var m) && m.GetArrayLength() == 2, "an ack naming two gaps");
        Assert.Equal(0u, gapped.GetProperty("seq").GetUInt32());
        Assert.Equal("[[1,1],[3,4]]", gapped.GetProperty("missing").GetRawText());

        foreach (var seq in new uint[] { 1, 3, 4 })
        {
            await device.PublishAsync("devices/shoe-gap/telemetry", Message(seq));
        }

        var whole = await device.ReceiveAsync("devices/shoe-gap/ack", a => a.GetProperty("seq").GetUInt32() == 5, "the ack of seq 5");
        Assert.False(whole.TryGetProperty("missing", out _), "no missing field once nothing is missing");
    }

    [Fact]
    public async Task ABootTooFarAheadOfItsGaps_GetsFurtherMessagesRefusedUnacked_AndTheirResendIsApplied()
    {
        await using var host = await StartAsync(new FlakySink(0), webhook: null, "--Uplink:MaxGapRanges", "2");
        await using var device = await host.DeviceAsync("shoe-far", "devices/shoe-far/ack", "devices/shoe-far/errors");
        foreach (var seq in new uint[] { 0, 2, 4, 6 })
        {
            await device.PublishAsync("devices/shoe-far/telemetry", Message(seq));
        }

        var refused = await device.ReceiveAsync("devices/shoe-far/errors", e => e.GetProperty("seq").GetUInt32() == 6, "the refusal of seq 6");
        Assert.Equal("rate_limited", refused.GetProperty("reason").GetString());
        var ack = await device.ReceiveAsync("devices/shoe-far/ack", a => a.TryGetProperty("missing", out var m) && m.GetArrayLength() == 2, "an ack naming the two gaps");
        Assert.Equal((0u, "[[1,1],[3,3]]"), (ack.GetProperty("seq").GetUInt32(), ack.GetProperty("missing").GetRawText()));

        // The device fills the gaps it was told about, then resends what was refused.
        foreach (var seq in new uint[] { 1, 3, 6, 5 })
        {
            await device.PublishAsync("devices/shoe-far/telemetry", Message(seq));
        }

        await device.ReceiveAsync("devices/shoe-far/ack", a => a.GetProperty("seq").GetUInt32() == 6, "the ack of seq 6");
        using var client = Client(host);
        var twin = JsonDocument.Parse(await client.GetStringAsync(new Uri("/api/devices/shoe-far", UriKind.Relative))).RootElement;
        Assert.Equal(7, twin.GetProperty("totals").GetProperty("readings").GetInt64());
    }

    [Fact]
    public async Task AQualitySignalWhosePublicationFails_IsRetriedUntilTheBrokerHasIt()
    {
        var quality = new FlakyQualitySink(failFirst: 2);
        await using var host = await OutboxServiceHost.StartAsync([], services => services.AddSingleton<Telemetry.Grains.Quality.IQualitySink>(sp =>
        {
            quality.Inner = ActivatorUtilities.CreateInstance<MqttQualitySink>(sp);
            return quality;
        }));
        await using var watcher = await host.WatcherAsync("quality", "quality/#");
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        var model = grains.GetGrain<Telemetry.Grains.Quality.IModelQualityGrain>("retry-1");

        await model.UpdateAsync(Exposure("2026w10-good", 1));
        await model.UpdateAsync(Exposure("2026w11-bad", 6));

        var signal = await watcher.ReceiveAsync("quality/retry-1/2026w11-bad", q => q.GetProperty("status").GetString() == "elevated", "the elevated batch");
        Assert.Equal("2026w11-bad", signal.GetProperty("batch").GetString());
        Assert.True(quality.Attempts >= 3, $"two failures and a success ({quality.Attempts} attempts)");
    }

    [Fact]
    public async Task AQualitySignalStoredButNeverPublished_IsPublishedAfterARestart_WithoutAnotherUpdate()
    {
        var quality = new FlakyQualitySink(failFirst: int.MaxValue);
        await using var host = await OutboxServiceHost.StartAsync([], services => services.AddSingleton<Telemetry.Grains.Quality.IQualitySink>(sp =>
        {
            quality.Inner = ActivatorUtilities.CreateInstance<MqttQualitySink>(sp);
            return quality;
        }));
        var model = host.Services.GetRequiredService<IGrainFactory>().GetGrain<Telemetry.Grains.Quality.IModelQualityGrain>("restart-1");
        await model.UpdateAsync(Exposure("2026w10-good", 1));
        await model.UpdateAsync(Exposure("2026w11-bad", 6));
        Assert.True(quality.Attempts >= 1, "the publication was attempted (and failed) before the restart");

        quality.Heal();
        await host.RestartAsync();
        await using var watcher = await host.WatcherAsync("quality-restart", "quality/#");

        var signal = await watcher.ReceiveAsync("quality/restart-1/2026w11-bad", q => q.GetProperty("status").GetString() == "elevated", "the elevated batch after the restart");
        Assert.Equal("restart-1", signal.GetProperty("model").GetString());
    }

    [Fact]
    public async Task ABatchStatus_IsPublishedAgainAfterARestart_MarkedSo_CountedInTheSummary_ButNotStoredAgain()
    {
        await using var host = await OutboxServiceHost.StartAsync([], _ => { });
        var model = host.Services.GetRequiredService<IGrainFactory>().GetGrain<Telemetry.Grains.Quality.IModelQualityGrain>("again-1");
        await model.UpdateAsync(Exposure("2026w10-good", 1));
        await model.UpdateAsync(Exposure("2026w11-bad", 6));
        // Counted in the summary once published and stored; a change is not marked republished.
        await using (var first = await host.WatcherAsync("quality-first", "quality/#"))
        {
            var change = await first.ReceiveAsync("quality/again-1/2026w11-bad", q => q.GetProperty("status").GetString() == "elevated", "the elevated batch");
            Assert.False(change.TryGetProperty("republished", out _));
        }

        await ElevatedAsync(host, 1, "the elevated batch in the summary");
        var stored = DefectRateLines(host.DataDirectory);
        Assert.Equal(2, stored.Count);

        await host.RestartAsync();
        await using var watcher = await host.WatcherAsync("quality-again", "quality/#");
        var signal = await watcher.ReceiveAsync("quality/again-1/2026w11-bad", q => q.GetProperty("status").GetString() == "elevated", "the elevated batch, published again");
        Assert.Equal(6, signal.GetProperty("failure_modes").EnumerateArray().Single(r => r.GetProperty("failure_mode").GetString() == "delamination").GetProperty("failures").GetInt64());
        Assert.True(signal.GetProperty("republished").GetBoolean());
        await ElevatedAsync(host, 1, "the elevated batch in the summary after the restart");
        Assert.Equal(stored, DefectRateLines(host.DataDirectory));

        // Only the batch whose status changed had a retained message: the good one never did, nor a model never seen.
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        Assert.Equal(1, await grains.GetGrain<Telemetry.Grains.Quality.IModelQualityGrain>("again-1").RepublishAsync());
        Assert.Equal(0, await grains.GetGrain<Telemetry.Grains.Quality.IModelQualityGrain>("again-2").RepublishAsync());
    }

    private static async Task ElevatedAsync(OutboxServiceHost host, int expected, string what)
    {
        var tally = host.Services.GetRequiredService<Telemetry.Ingest.Summary.ActivityTally>();
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(30); tally.BatchesElevated != expected;)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"{what}: {tally.BatchesElevated} batches elevated, not {expected}");
            await Task.Delay(20);
        }
    }

    /// <summary>The defect_rate lines in the service's day files.</summary>
    private static List<string> DefectRateLines(string directory) =>
        [.. Directory.EnumerateFiles(directory, "*.lp", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .SelectMany(File.ReadLines).Where(l => l.StartsWith("defect_rate,", StringComparison.Ordinal))];

    [Fact]
    public async Task AFailureReportSentAgain_CountsOnce()
    {
        await using var host = await StartAsync(new FlakySink(0), webhook: null);
        var batch = host.Services.GetRequiredService<IGrainFactory>().GetGrain<Telemetry.Grains.Quality.IBatchQualityGrain>("dup-1/2026w12");
        var report = new Telemetry.Grains.Quality.FailureReport("shoe-dup", "dup-1", "2026w12", "delamination", DateTimeOffset.UtcNow, "alert");

        await batch.ReportFailureAsync(report);
        await batch.ReportFailureAsync(report);
        await batch.ReportFailureAsync(report with { At = report.At.AddMinutes(1) });

        var exposure = await batch.GetExposureAsync(Telemetry.Grains.Quality.QualityWindow.All);
        Assert.Equal(1, exposure.Failures["delamination"].Count);
    }

    [Fact]
    public async Task BatchTotals_FollowEveryReport_AndAreTheSameAfterARestart()
    {
        await using var host = await StartAsync(new FlakySink(0), webhook: null);
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        const long day = 86_400_000;
        var start = DateTimeOffset.UtcNow.AddDays(-10).ToUnixTimeMilliseconds();
        var today = (int)(start / day);
        Telemetry.Grains.Quality.ExposureReport Report(string device, long firstDay, long lastDay, double km) =>
            new(device, "shoe", "totals-1", "2026w13", start + firstDay * day, start + lastDay * day, new() { [today] = km });

        // A device reported again moves its own span and adds its kilometres; it is still one device.
        var batch = grains.GetGrain<Telemetry.Grains.Quality.IBatchQualityGrain>("totals-1/2026w13");
        // As the silo's collector sends them (many devices at once), and one at a time.
        await batch.ReportExposuresAsync([Report("a", 0, 0, 1.5), Report("b", 0, 3, 2)]);
        await batch.ReportExposureAsync(Report("a", 2, 5, 0.5));
        await batch.ReportExposureAsync(Report("c", 1, 1, 4));

        // a: days 0..5 = 5 device-days, 2 km; b: 3 days, 2 km; c: seen on one day counts 1, 4 km.
        var expected = (Devices: 3L, Days: 9.0, Km: 8.0);
        var before = await UntilAsync(batch, e => e.Devices == 3 && e.DeviceKm == expected.Km);
        Assert.Equal(expected, (before.Devices, before.DeviceDays, before.DeviceKm));

        await host.RestartAsync();
        batch = host.Services.GetRequiredService<IGrainFactory>().GetGrain<Telemetry.Grains.Quality.IBatchQualityGrain>("totals-1/2026w13");
        var after = await batch.GetExposureAsync(Telemetry.Grains.Quality.QualityWindow.All);
        Assert.Equal(expected, (after.Devices, after.DeviceDays, after.DeviceKm));

        var rates = await host.Services.GetRequiredService<IGrainFactory>().GetGrain<Telemetry.Grains.Quality.IModelQualityGrain>("totals-1").GetRatesAsync(Telemetry.Grains.Quality.QualityWindow.All);
        Assert.NotEmpty(rates);
        Assert.All(rates, r => Assert.Equal((3L, 9.0, 8.0), (r.Devices, r.DeviceDays, r.DeviceKm)));
    }

    /// <summary>Exposure reports are one-way: read until the grain has taken them (bounded by the test timeout).</summary>
    private static async Task<Telemetry.Grains.Quality.BatchExposure> UntilAsync(Telemetry.Grains.Quality.IBatchQualityGrain batch, Func<Telemetry.Grains.Quality.BatchExposure, bool> done)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var exposure = await batch.GetExposureAsync(Telemetry.Grains.Quality.QualityWindow.All);
            if (done(exposure))
            {
                return exposure;
            }

            await Task.Delay(20, timeout.Token);
        }
    }

    private static Telemetry.Grains.Quality.BatchExposure Exposure(string batch, long failures) => new()
    {
        Batch = batch,
        Kind = "shoe",
        Devices = 40,
        DeviceDays = 400,
        DeviceKm = 4000,
        Failures = new() { ["delamination"] = new Telemetry.Grains.Quality.ModeFailures(failures, DateTimeOffset.UtcNow) },
    };

    private static HttpClient Client(OutboxServiceHost host)
    {
        var client = new HttpClient { BaseAddress = host.BaseAddress };
        client.DefaultRequestHeaders.Add("X-Api-Key", ServiceFixture.ApiKey);
        return client;
    }

    private static async Task<OutboxServiceHost> StartAsync(FlakySink sink, Uri? webhook, params string[] extra)
    {
        string[] args = webhook is null ? extra :
        [
            "--Alerts:Webhooks:0:Url", webhook.ToString(),
            "--Alerts:Webhooks:0:Secret", Secret,
            "--Alerts:Webhooks:0:RetryFirst", "00:00:00.050",
            .. extra,
        ];
        return await OutboxServiceHost.StartAsync(args, services => services.AddSingleton<IAlertSink>(sp =>
        {
            sink.Inner = ActivatorUtilities.CreateInstance<MqttAlertSink>(sp);
            return sink;
        }));
    }

    /// <summary>The real quality sink behind a switch that makes its first calls fail.</summary>
    private sealed class FlakyQualitySink(int failFirst) : Telemetry.Grains.Quality.IQualitySink
    {
        private int _attempts;
        private volatile bool _healed;

        public void Heal() => _healed = true;

        public MqttQualitySink? Inner { get; set; }

        public int Attempts => Volatile.Read(ref _attempts);

        public async ValueTask PublishAsync(Telemetry.Grains.Quality.DefectRateRow[] batchRows, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _attempts) <= failFirst && !_healed)
            {
                throw new InvalidOperationException("failing on purpose");
            }

            await Inner!.PublishAsync(batchRows, cancellationToken);
        }

        public ValueTask RepublishAsync(Telemetry.Grains.Quality.DefectRateRow[] batchRows, CancellationToken cancellationToken) =>
            Inner!.RepublishAsync(batchRows, cancellationToken);
    }

    private static byte[] Message(uint seq)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000 + seq;
        return Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$$"""{"v":1,"boot":"g1","seq":{{{seq}}},"readings":[{"ts":{{{now}}},"m":{"battery_pct":80}}]}"""));
    }

    /// <summary>Birth, then four 45 km outings: the shoe crosses its replace-soon threshold (as ServiceFixture does).</summary>
    private static async Task CrossCushioningThresholdAsync(TestDevice device, string id)
    {
        await device.PublishAsync($"devices/{id}/birth", TestDevice.Vector("valid/birth-shoe.json"), retain: true);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var readings = string.Join(',', Enumerable.Range(0, 4).Select(i => string.Create(CultureInfo.InvariantCulture,
            $$$"""{"ts":{{{now - ((4 - i) * 86_400_000L)}}},"m":{"distance_m":45000}}""")));
        await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"x","seq":0,"readings":[{{readings}}]}"""));
    }

    /// <summary>The real alert sink behind a switch that makes its first calls fail, recording every attempt.</summary>
    private sealed class FlakySink(int failFirst) : IAlertSink
    {
        private readonly Lock _lock = new();
        private readonly TaskCompletionSource<string> _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly System.Threading.Channels.Channel<string> _delivered = System.Threading.Channels.Channel.CreateUnbounded<string>();
        private int _failuresLeft = failFirst;

        public MqttAlertSink? Inner { get; set; }

        public List<string> Attempts { get; } = [];

        public List<string> Delivered { get; } = [];

        public void Heal()
        {
            lock (_lock)
            {
                _failuresLeft = 0;
            }
        }

        public async Task<string> FirstAttemptAsync() => await _firstAttempt.Task.WaitAsync(TimeSpan.FromSeconds(20));

        public async Task<string> NextDeliveredAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            return await _delivered.Reader.ReadAsync(timeout.Token);
        }

        public async ValueTask PublishAsync(AlertEvent alert, CancellationToken cancellationToken)
        {
            bool fail;
            lock (_lock)
            {
                Attempts.Add(alert.EventId);
                fail = _failuresLeft > 0;
                if (fail)
                {
                    _failuresLeft--;
                }
            }

            _firstAttempt.TrySetResult(alert.EventId);
            if (fail)
            {
                throw new InvalidOperationException("failing on purpose");
            }

            await Inner!.PublishAsync(alert, cancellationToken);
            lock (_lock)
            {
                Delivered.Add(alert.EventId);
            }

            _delivered.Writer.TryWrite(alert.EventId);
        }
    }
}
