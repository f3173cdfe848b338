using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Orleans.Serialization;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Storage;
using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// Issue 12, memory per twin: the twin keeps its last values as a compact array, a tracker holds no list of runs
/// until a gap, and the pipeline keeps only the grain's latest ack per device. Twins stored before still load, and
/// the grain still counts every duplicate.
/// </summary>
public sealed class CompactTwinTests
{
    private static readonly Serializer Serializer = new ServiceCollection()
        .AddSerializer(b => b.AddAssembly(typeof(DeviceState).Assembly).AddAssembly(typeof(Telemetry.Models.Faults.DeviceFaultState).Assembly))
        .BuildServiceProvider()
        .GetRequiredService<Serializer>();

    /// <summary>A twin written by c439053 (last values as a dictionary, field 21): 3 messages, seqs 0-2 of boot b1,
    /// impact_g 8.5 and heart_rate_bpm 151.</summary>
    private const string TwinStoredBeforeCompactValues =
        "IMABwQHBAcEBwQGBAAAAAAAAAACBAAAAAAAAAAABAcEBJxEgAAMhQAViMQEJwQEBASHgIYAAAAAAAAAAAIEAAAAAAAAAAOABAeDgAQHgAQ0B8QEBAQEhAQVBEWltcGFjdF9ngAAAAAAAACFAQB1oZWFydF9yYXRlX2JwbYAAAAAAAOBiQODBAcEBwQEhwAHBAcEBwQEBAQEB4MEBwQHBASHAAcEBAQHg4A==";

    [Fact]
    public void ATwinStoredWithLastValuesAsADictionary_LoadsWithThemAndWritesTheNewForm()
    {
        var loaded = Serializer.Deserialize<DeviceState>(Convert.FromBase64String(TwinStoredBeforeCompactValues))!;

        Assert.Equal(3, loaded.Messages);
        Assert.Equal(new MessageKey("b1", 2), Assert.Single(loaded.Progress.Acks()));
        Assert.Equal(new Dictionary<string, double> { ["impact_g"] = 8.5, ["heart_rate_bpm"] = 151 }, loaded.LastValuesByName());

        Assert.True(loaded.SetLastValue("impact_g", 9.25, 64));
        var again = Serializer.Deserialize<DeviceState>(Serializer.SerializeToArray(loaded))!;
        Assert.Equal(new Dictionary<string, double> { ["impact_g"] = 9.25, ["heart_rate_bpm"] = 151 }, again.LastValuesByName());
        Assert.Equal(SeqOutcome.Duplicate, again.Progress.Record(new MessageKey("b1", 1), null, new DedupeOptions()));
    }

    [Fact]
    public void LastValues_KeepOneSlotPerName_InTheOrderFirstSeen_UpToTheCap()
    {
        var state = new DeviceState();
        Assert.True(state.SetLastValue("impact_g", 1, 3));
        Assert.True(state.SetLastValue("steps", 2, 3));
        // The same name as another string instance (as read back from the store) is the same slot.
        var copy = new string("impact_g".AsSpan());
        Assert.True(state.SetLastValue(copy, 3, 3));
        Assert.True(state.SetLastValue("my_metric", 4, 3));
        Assert.False(state.SetLastValue("one_too_many", 5, 3));
        Assert.True(state.SetLastValue("steps", 6, 3));

        Assert.Equal([new MetricValue("impact_g", 3), new MetricValue("steps", 6), new MetricValue("my_metric", 4)], state.LastValues.ToArray());
        Assert.Same(copy, state.LastValues[0].Name);
    }

    [Fact]
    public void ATrackerWhoseGapsAreFilled_BehavesAsOneThatNeverHadAny_AndSurvivesARoundTrip()
    {
        var tracker = new SeqTracker("b1");
        foreach (var seq in new uint[] { 0, 3, 5, 4, 2 })
        {
            Assert.Equal(SeqOutcome.Recorded, tracker.Record(seq, 16));
        }

        Assert.Equal(1, tracker.RangeCount);
        Assert.Equal([new SeqRange(1, 1)], tracker.Missing(16));
        Assert.Equal(SeqOutcome.Recorded, tracker.Record(1, 16));
        Assert.Equal((0, 5L, 5L), (tracker.RangeCount, tracker.Contiguous, tracker.Highest));
        Assert.Empty(tracker.Missing(16));

        var loaded = Serializer.Deserialize<SeqTracker>(Serializer.SerializeToArray(tracker))!;
        Assert.True(loaded.IsDuplicate(5));
        Assert.Equal(SeqOutcome.Recorded, loaded.Record(7, 16));
        Assert.Equal([new SeqRange(6, 6)], loaded.Missing(16));
        Assert.Equal(SeqOutcome.Duplicate, loaded.Record(7, 16));
        Assert.Equal(SeqOutcome.Recorded, loaded.Record(6, 16));
        Assert.Equal((0, 7L), (loaded.RangeCount, loaded.Contiguous));
    }

    [Fact]
    public void BirthsDecodedApart_ShareTheirStrings_AndAnyValueStillComesBackWhole()
    {
        const string Birth = """{"v":1,"kind":"shoe","model":"aerorun-3","batch":"2025w28-sz2","firmware":"1.4.2","manufactured":"2025-07-14"}""";
        var first = BirthDecoder.Decode(Encoding.UTF8.GetBytes(Birth), out _, out _)!;
        var second = BirthDecoder.Decode(Encoding.UTF8.GetBytes(Birth), out _, out _)!;
        Assert.Same(first.Model, second.Model);
        Assert.Same(first.Batch, second.Batch);
        Assert.Same(first.Firmware, second.Firmware);

        // Read back from the store: equal, and sharing again.
        var stored = Serializer.Deserialize<DeviceBirth>(Serializer.SerializeToArray(first))!;
        Assert.NotSame(first.Model, stored.Model);
        Assert.Same(first.Model, stored.WithSharedStrings().Model);
        Assert.Equal(first, stored.WithSharedStrings());

        // A client sending a new value every time fills the fixed table with them and gets each back unchanged.
        var random = new Random(12);
        for (var i = 0; i < 20_000; i++)
        {
            var value = $"batch-{random.Next()}";
            Assert.Equal(value, SharedStrings.Get(new string(value.AsSpan())));
        }
    }

    [Fact]
    public void TheDeviceCache_KnowsTheLatestAckOfOneBoot()
    {
        var cache = new DeviceCache();
        Assert.False(cache.IsAcked(new MessageKey("b1", 0)));

        cache.Acked(new MessageKey("b1", 4));
        cache.Acked(new MessageKey("b1", 2));
        Assert.True(cache.IsAcked(new MessageKey("b1", 4)));
        Assert.False(cache.IsAcked(new MessageKey("b1", 5)));
        Assert.False(cache.IsAcked(new MessageKey("b2", 0)));

        cache.Acked(new MessageKey("b2", 0));
        Assert.True(cache.IsAcked(new MessageKey("b2", 0)));
        Assert.False(cache.IsAcked(new MessageKey("b1", 0)));
        Assert.Equal(0, cache.CustomMetricCount);
    }

    /// <summary>Redeliveries the pipeline's cache cannot tell (beyond a gap, of an older boot) reach the grain, which
    /// neither applies them again nor fails to count them; those the cache does tell are counted once.</summary>
    [Fact]
    public async Task Redeliveries_AreAppliedOnce_AndEachIsCountedOnce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1795428000000 + 60_000));
        var channel = Channel.CreateUnbounded<InboundMessage>();
        var twins = new ProgressTwins(time);
        var replies = new RecordingReplies();
        var counters = new IngestCounters(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());
        var worker = new PartitionWorker(channel.Reader, twins, replies, new NullStore(), counters, new UplinkOptions(),
            new PipelineOptions { Partitions = 1 }, time, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => worker.RunAsync(stop.Token));

        // Seq 0 and 2 of b1 (1 lost), then seq 0 of b2 (a reboot): the cache holds b2's ack only.
        foreach (var (boot, seq) in new[] { ("b1", 0u), ("b1", 2u) })
        {
            await channel.Writer.WriteAsync(Telemetry(boot, seq));
            await UntilAsync(() => twins.Applied == seq / 2 + 1, $"{boot}:{seq} applied");
        }

        await channel.Writer.WriteAsync(Telemetry("b2", 0));
        await UntilAsync(() => twins.Applied == 3, "b2:0 applied");

        // Redelivered: b1:2 (beyond b1's gap), b1:0 (an older boot), b2:0 (the cache's own ack).
        foreach (var (boot, seq) in new[] { ("b1", 2u), ("b1", 0u), ("b2", 0u) })
        {
            await channel.Writer.WriteAsync(Telemetry(boot, seq));
        }

        await UntilAsync(() => counters.Duplicates == 3, "three duplicates counted");
        Assert.Equal(3, twins.Applied);
        // Every redelivery was answered with its boot's ack: b1 stays at 0 (seq 1 is missing), b2 at 0.
        Assert.Equal([new MessageKey("b1", 0), new MessageKey("b2", 0)], replies.Acks.Skip(3).Select(a => a.Ack).Distinct().OrderBy(k => k.Boot, StringComparer.Ordinal));

        await stop.CancelAsync();
        await run;
    }

    private static InboundMessage Telemetry(string boot, uint seq) => InboundMessage.Copy("shoe-1", UplinkTopic.Telemetry,
        new System.Buffers.ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(
            $$$"""{"v":1,"boot":"{{{boot}}}","seq":{{{seq}}},"readings":[{"ts":1795428000000,"m":{"distance_m":{{{seq + 1}}}}}]}""")), null);

    private static async Task UntilAsync(Func<bool> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited 20 s for {what}");
            await Task.Delay(5);
        }
    }

    /// <summary>Twins that dedupe as the device grain does, with its real progress type, and count what they apply.</summary>
    private sealed class ProgressTwins(TimeProvider time) : IDeviceTwins
    {
        private readonly ConcurrentDictionary<string, DeviceProgress> _progress = new(StringComparer.Ordinal);
        private int _applied;

        public int Applied => Volatile.Read(ref _applied);

        public Task<IngestProfile> GetIngestProfileAsync(string deviceId) => Task.FromResult(new IngestProfile(null, []));

        public Task<IngestResult> IngestAsync(string deviceId, TelemetryBatch batch)
        {
            var progress = _progress.GetOrAdd(deviceId, _ => new DeviceProgress());
            lock (progress)
            {
                var duplicates = 0;
                var boots = new List<string>();
                foreach (var message in batch.Messages)
                {
                    if (!boots.Contains(message.Key.Boot))
                    {
                        boots.Add(message.Key.Boot);
                    }

                    if (progress.Record(message.Key, time.GetUtcNow(), new DedupeOptions()) == SeqOutcome.Duplicate)
                    {
                        duplicates++;
                    }
                    else
                    {
                        Interlocked.Increment(ref _applied);
                    }
                }

                var acks = boots.Select(progress.AckFor).OfType<MessageKey>().ToArray();
                return Task.FromResult(new IngestResult(acks, duplicates) { Profile = batch.WantsProfile ? new IngestProfile(null, []) : null });
            }
        }
    }

    private sealed class NullStore : IReadingStore
    {
        public ValueTask<bool> StoreAsync(ReadOnlyMemory<byte> lines, int lineCount, CancellationToken cancellationToken) => ValueTask.FromResult(true);
    }
}
