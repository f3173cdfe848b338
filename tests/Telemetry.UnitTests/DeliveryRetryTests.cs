using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Storage;
using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// A delivery whose store write or grain call fails is held and retried in place until it succeeds, with
/// /health saying so meanwhile; a faulted partition is restarted; a slow service clock does not turn readings
/// into final rejections. Time is fake: each test advances it while it polls for the outcome.
/// </summary>
public sealed class DeliveryRetryTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeMilliseconds(1795428000000 + 60_000);

    private readonly FakeTimeProvider _time = new(Start);
    private readonly RecordingReplies _replies = new();
    private readonly FlakyStore _store = new();
    private readonly FlakyTwins _twins = new();
    private readonly Channel<InboundMessage> _channel = Channel.CreateUnbounded<InboundMessage>();
    private readonly IngestCounters _counters = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());
    private readonly ComponentHealth _health;
    private readonly PipelineOptions _options = new() { Partitions = 1, UnhealthyAfter = TimeSpan.FromSeconds(60) };

    public DeliveryRetryTests() => _health = new ComponentHealth(_time);

    private PartitionWorker Worker() => new(
        _channel.Reader, _twins, _replies, _store, _counters, new UplinkOptions(), _options, _time, NullLogger.Instance,
        health: _health);

    private static InboundMessage Telemetry(string device, uint seq, long tsMs = 1795428000000)
    {
        var bytes = Encoding.UTF8.GetBytes($$$"""{"v":1,"boot":"b1","seq":{{{seq}}},"readings":[{"ts":{{{tsMs}}},"m":{"distance_m":{{{seq + 1}}}}}]}""");
        // Copied into a pooled buffer, as the MQTT handler does: the partition returns it to the pool when done.
        return InboundMessage.Copy(device, UplinkTopic.Telemetry, new System.Buffers.ReadOnlySequence<byte>(bytes), null);
    }

    /// <summary>Advances fake time in small steps until <paramref name="done"/> holds; fails after 10 s of real time.</summary>
    private async Task EventuallyAsync(Func<bool> done, string what, TimeSpan? step = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            _time.Advance(step ?? TimeSpan.FromMilliseconds(50));
            await Task.Delay(2);
        }
    }

    [Fact]
    public async Task FailedStoreWrite_IsHeldUnackedAndRetried_UntilStored()
    {
        _store.FailNext = 3;
        using var stop = new CancellationTokenSource();
        var worker = Worker();
        var run = Task.Run(() => worker.RunAsync(stop.Token));

        await _channel.Writer.WriteAsync(Telemetry("shoe-1", 0));
        await EventuallyAsync(() => _store.Attempts >= 1 && worker.HeldMessages == 1, "the first failed write");
        Assert.Empty(_replies.Acks);
        var failing = Assert.Single(_health.Failing());
        Assert.Equal(("partition/0", HealthStatus.Degraded), (failing.Key, failing.Value.Status));
        Assert.StartsWith("store: writes failing for 1 devices since", failing.Value.Reason, StringComparison.Ordinal);

        await EventuallyAsync(() => _replies.Acks.Count == 1, "the ack after the store recovers");

        Assert.Equal(4, _store.Attempts);
        Assert.Equal(1, _store.LinesStored);
        Assert.Equal(("shoe-1", new MessageKey("b1", 0)), _replies.Acks.Single());
        Assert.Equal(0, worker.HeldMessages);
        Assert.Empty(_health.Failing());
        Assert.Equal(1, _counters.Messages);
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task FailedGrainCall_HoldsItsDeviceInOrder_WhileOtherDevicesFlow()
    {
        _twins.Failing["shoe-a"] = true;
        using var stop = new CancellationTokenSource();
        var worker = Worker();
        var run = Task.Run(() => worker.RunAsync(stop.Token));

        await _channel.Writer.WriteAsync(Telemetry("shoe-a", 0));
        await EventuallyAsync(() => worker.HeldMessages == 1, "shoe-a's first message to be held");
        await _channel.Writer.WriteAsync(Telemetry("shoe-a", 1));
        await _channel.Writer.WriteAsync(Telemetry("shoe-b", 0));
        await EventuallyAsync(() => _replies.Acks.Any(a => a.Device == "shoe-b"), "shoe-b to flow past the failing device");

        Assert.Equal(2, worker.HeldMessages);
        Assert.DoesNotContain(_replies.Acks, a => a.Device == "shoe-a");
        Assert.Empty(_twins.Applied("shoe-a"));
        Assert.Contains("twins: grain calls failing for 1 devices since", _health.Failing()["partition/0"].Reason, StringComparison.Ordinal);

        _twins.Failing.Clear();
        await EventuallyAsync(() => _replies.Acks.Any(a => a == ("shoe-a", new MessageKey("b1", 1))), "shoe-a's messages once the twins answer");

        Assert.Equal([0u, 1u], _twins.Applied("shoe-a"));
        Assert.Equal(0, worker.HeldMessages);
        Assert.Empty(_health.Failing());
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task DeliveriesHeldPastTheThreshold_AreUnhealthy()
    {
        _twins.Failing["shoe-a"] = true;
        using var stop = new CancellationTokenSource();
        var worker = Worker();
        var run = Task.Run(() => worker.RunAsync(stop.Token));

        await _channel.Writer.WriteAsync(Telemetry("shoe-a", 0));
        await EventuallyAsync(() => worker.HeldMessages == 1, "the message to be held");
        Assert.Equal(HealthStatus.Degraded, _health.Worst());

        await EventuallyAsync(() => _health.Worst() == HealthStatus.Unhealthy, "Unhealthy after Pipeline:UnhealthyAfter", TimeSpan.FromSeconds(1));
        Assert.True(_time.GetUtcNow() - Start >= _options.UnhealthyAfter);
        Assert.Empty(_replies.Acks);

        _twins.Failing.Clear();
        await EventuallyAsync(() => _replies.Acks.Count == 1, "the ack after recovery", TimeSpan.FromSeconds(1));
        Assert.Equal(HealthStatus.Healthy, _health.Worst());
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task FaultedPartition_IsRestartedBySupervisor_CountedAndNothingAckedUnstored()
    {
        _store.ThrowNext = 1;
        var pipeline = new IngestPipeline(_twins, _replies, _store, _counters, Options.Create(new UplinkOptions()), Options.Create(_options),
            _time, NullLoggerFactory.Instance, QualityRegistry.Open, _health, new SubscriberConnection());
        await pipeline.StartAsync(CancellationToken.None);

        await pipeline.WriteAsync(Telemetry("shoe-1", 0), CancellationToken.None);
        // The supervisor's restart pause (100 ms) spans two steps of fake time, so the report is seen before the retry clears it.
        await EventuallyAsync(
            () => _counters.PartitionRestarts == 1 && _health.Failing().TryGetValue("partition/0", out var state) && state.Reason.Contains("restarted after a fault", StringComparison.Ordinal),
            "the supervisor to restart the partition and report it");
        Assert.Empty(_replies.Acks);

        await EventuallyAsync(() => _replies.Acks.Count == 1, "the held round to be stored and acked after the restart");
        Assert.Equal(1, _store.LinesStored);
        Assert.Equal(1, _counters.PartitionRestarts);
        Assert.Empty(_health.Failing());

        await pipeline.WriteAsync(Telemetry("shoe-1", 1), CancellationToken.None);
        await EventuallyAsync(() => _replies.Acks.Count == 2, "the restarted partition to take new messages");
        await pipeline.StopAsync(CancellationToken.None);
        pipeline.Dispose();
    }

    [Fact]
    public async Task HandlerWaitingForAFullPartition_IsDegradedThenUnhealthy_AndClearsWhenItMoves()
    {
        var options = new PipelineOptions { Partitions = 1, ChannelCapacity = 1, FullPartitionWarning = TimeSpan.FromSeconds(5), UnhealthyAfter = TimeSpan.FromSeconds(60) };
        // Not started: nothing reads the partition, as when its worker is stuck.
        var pipeline = new IngestPipeline(_twins, _replies, _store, _counters, Options.Create(new UplinkOptions()), Options.Create(options),
            _time, NullLoggerFactory.Instance, QualityRegistry.Open, _health, new SubscriberConnection());
        await pipeline.WriteAsync(Telemetry("shoe-1", 0), CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = pipeline.WriteAsync(Telemetry("shoe-1", 1), cancel.Token).AsTask();
        Assert.False(waiting.IsCompleted);

        _time.Advance(TimeSpan.FromSeconds(4));
        pipeline.CheckFullPartitions();
        Assert.Empty(_health.Failing());

        _time.Advance(TimeSpan.FromSeconds(2));
        pipeline.CheckFullPartitions();
        var state = _health.Failing()[IngestPipeline.Component];
        Assert.Equal(HealthStatus.Degraded, state.Status);
        Assert.StartsWith("partition 0 full for 6 s", state.Reason, StringComparison.Ordinal);

        _time.Advance(TimeSpan.FromSeconds(60));
        pipeline.CheckFullPartitions();
        Assert.Equal(HealthStatus.Unhealthy, _health.Failing()[IngestPipeline.Component].Status);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        pipeline.CheckFullPartitions();
        Assert.Empty(_health.Failing());
        pipeline.Dispose();
    }

    [Fact]
    public async Task ReadingsAheadFromSeveralDevices_AreHeldNotRejected_UntilTheClockIsRight()
    {
        using var stop = new CancellationTokenSource();
        var worker = Worker();
        var run = Task.Run(() => worker.RunAsync(stop.Token));
        var ahead = Start.AddMinutes(10).ToUnixTimeMilliseconds();

        // Nothing ahead is rejected at first sight: the first devices are held on probation, not acked.
        await _channel.Writer.WriteAsync(Telemetry("shoe-1", 0, ahead));
        await _channel.Writer.WriteAsync(Telemetry("shoe-2", 0, ahead));
        await EventuallyAsync(() => worker.HeldMessages == 2, "the first two devices' messages to be held");
        Assert.Empty(_replies.Acks);
        Assert.False(_health.Failing().ContainsKey(ServiceClockWatch.Component));

        // A third device ahead within the window: the service now suspects its own clock.
        await _channel.Writer.WriteAsync(Telemetry("shoe-3", 0, ahead));
        await EventuallyAsync(() => worker.HeldMessages == 3, "shoe-3's message to be held");
        Assert.Empty(_replies.Acks);
        Assert.Equal(0, _counters.Rejections(RejectReason.TimestampInFuture));
        Assert.Contains("the service clock looks slow", _health.Failing()[ServiceClockWatch.Component].Reason, StringComparison.Ordinal);

        // The clock is put right (here: time catches up with the readings): every held message is stored and acked.
        _time.Advance(TimeSpan.FromMinutes(6));
        await EventuallyAsync(() => _replies.Acks.Count == 3, "the three acks once the readings are no longer ahead");
        Assert.Equal(["shoe-1", "shoe-2", "shoe-3"], _replies.Acks.Select(a => a.Device).Order(StringComparer.Ordinal));
        Assert.Equal(3, _store.LinesStored);
        Assert.Equal(0, _counters.Rejections(RejectReason.TimestampInFuture));
        await EventuallyAsync(() => !_health.Failing().ContainsKey(ServiceClockWatch.Component), "the clock suspicion to lapse", TimeSpan.FromSeconds(5));
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task ReadingAheadFromOneDevice_IsHeldForItsProbation_ThenRejectedAsFinal()
    {
        using var stop = new CancellationTokenSource();
        var worker = Worker();
        var run = Task.Run(() => worker.RunAsync(stop.Token));

        await _channel.Writer.WriteAsync(Telemetry("shoe-1", 0, Start.AddMinutes(10).ToUnixTimeMilliseconds()));
        await _channel.Writer.WriteAsync(Telemetry("shoe-1", 1, Start.AddMinutes(10).ToUnixTimeMilliseconds()));
        await EventuallyAsync(() => worker.HeldMessages == 2, "shoe-1's messages to be held on probation");
        Assert.Empty(_replies.Acks);
        Assert.True(_counters.ClockHolds >= 1);

        // Alone in being ahead for the whole window: the device's clock is the wrong one.
        await EventuallyAsync(() => _replies.Acks.Any(a => a.Ack.Seq == 1), "shoe-1's ack after its probation", TimeSpan.FromSeconds(1));
        Assert.Equal(0, worker.HeldMessages);
        Assert.Equal(0, _store.LinesStored);
        Assert.Equal(2, _counters.Rejections(RejectReason.TimestampInFuture));
        Assert.All(_replies.Errors, e => Assert.Equal(RejectReason.TimestampInFuture, e.Reason));
        Assert.False(_health.Failing().ContainsKey(ServiceClockWatch.Component));
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task ReadingsADayAhead_AreNoEvidenceAgainstTheServiceClock_AndAreRejectedAtOnce()
    {
        // Review of #11: three devices a day ahead once made the service suspect its own clock, and the retries of
        // their held messages kept the suspicion alive for good. No merely wrong service clock is a day behind.
        using var stop = new CancellationTokenSource();
        var worker = Worker();
        var run = Task.Run(() => worker.RunAsync(stop.Token));
        var aDayAhead = Start.AddDays(1).ToUnixTimeMilliseconds();
        foreach (var device in (string[])["fast-1", "fast-2", "fast-3"])
        {
            await _channel.Writer.WriteAsync(Telemetry(device, 0, aDayAhead));
            await _channel.Writer.WriteAsync(Telemetry(device, 1));
        }

        await EventuallyAsync(() => _replies.Acks.Count(a => a.Ack.Seq == 1) == 3, "the three devices' acks through seq 1");
        Assert.Equal(0, worker.HeldMessages);
        Assert.Equal(3, _counters.Rejections(RejectReason.TimestampInFuture));
        Assert.Equal(3, _store.LinesStored);
        Assert.False(_health.Failing().ContainsKey(ServiceClockWatch.Component));
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task AFewFastDevices_InAFleetOnTime_AreNotPutDownToTheServiceClock_AndAreRejectedAfterTheirProbation()
    {
        using var stop = new CancellationTokenSource();
        var worker = Worker();
        var run = Task.Run(() => worker.RunAsync(stop.Token));
        var aheadButExplicable = Start.AddMinutes(50).ToUnixTimeMilliseconds();
        foreach (var device in (string[])["fast-1", "fast-2", "fast-3"])
        {
            await _channel.Writer.WriteAsync(Telemetry(device, 0, aheadButExplicable));
        }

        await EventuallyAsync(() => worker.HeldMessages == 3, "the fast devices' messages held on probation");
        Assert.Empty(_replies.Acks);
        for (var i = 0; i < 20; i++)
        {
            await _channel.Writer.WriteAsync(Telemetry($"shoe-{i}", 0));
        }

        // Alone, three devices ahead may well mean a slow service clock; a fleet on time says otherwise.
        await EventuallyAsync(() => _replies.Acks.Count(a => a.Device.StartsWith("shoe-", StringComparison.Ordinal)) == 20, "the fleet's acks");
        Assert.False(_health.Failing().ContainsKey(ServiceClockWatch.Component));

        // Their probation ends with the fleet on time: their clocks are wrong, the readings rejected as final.
        await EventuallyAsync(() => _replies.Acks.Count(a => a.Device.StartsWith("fast-", StringComparison.Ordinal)) == 3, "the fast devices' acks after probation", TimeSpan.FromMilliseconds(250));
        Assert.Equal(0, worker.HeldMessages);
        Assert.Equal(3, _counters.Rejections(RejectReason.TimestampInFuture));
        Assert.Equal(20, _store.LinesStored);
        Assert.False(_health.Failing().ContainsKey(ServiceClockWatch.Component));
        await stop.CancelAsync();
        await run;
    }

    /// <summary>A store that refuses (or throws on) its next writes, then keeps what it is given.</summary>
    private sealed class FlakyStore : IReadingStore
    {
        private int _attempts;
        private int _lines;

        public int FailNext { get; set; }

        public int ThrowNext { get; set; }

        public int Attempts => Volatile.Read(ref _attempts);

        public int LinesStored => Volatile.Read(ref _lines);

        public ValueTask<bool> StoreAsync(ReadOnlyMemory<byte> lines, int lineCount, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _attempts);
            if (ThrowNext > 0)
            {
                ThrowNext--;
                throw new UnauthorizedAccessException("the data directory is not writable");
            }

            if (FailNext > 0)
            {
                FailNext--;
                return ValueTask.FromResult(false);
            }

            Interlocked.Add(ref _lines, lineCount);
            return ValueTask.FromResult(true);
        }
    }

    /// <summary>Twins that fail every call for the devices in <see cref="Failing"/>, like a grain over a dead Redis.</summary>
    private sealed class FlakyTwins : IDeviceTwins
    {
        private readonly ConcurrentDictionary<string, ConcurrentQueue<uint>> _applied = new(StringComparer.Ordinal);

        public ConcurrentDictionary<string, bool> Failing { get; } = new(StringComparer.Ordinal);

        public uint[] Applied(string deviceId) => _applied.TryGetValue(deviceId, out var seqs) ? [.. seqs] : [];

        public Task<IngestProfile> GetIngestProfileAsync(string deviceId) =>
            Failing.ContainsKey(deviceId)
                ? Task.FromException<IngestProfile>(new TimeoutException("twin store unreachable"))
                : Task.FromResult(new IngestProfile(null, []));

        public Task<IngestResult> IngestAsync(string deviceId, TelemetryBatch batch)
        {
            if (Failing.ContainsKey(deviceId))
            {
                return Task.FromException<IngestResult>(new TimeoutException("twin store unreachable"));
            }

            var seqs = _applied.GetOrAdd(deviceId, _ => new ConcurrentQueue<uint>());
            foreach (var message in batch.Messages)
            {
                if (!seqs.Contains(message.Key.Seq))
                {
                    seqs.Enqueue(message.Key.Seq);
                }
            }

            return Task.FromResult(new IngestResult(batch.Messages.Length == 0 ? [] : [batch.Messages[^1].Key], 0));
        }
    }
}
