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
        .AddSerializer(b => b.AddAssembly(typeof(DeviceState).Assembly))
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
    public void TheDeviceCache_KnowsTheLatestAck_AndHoldsWhatIsBeyondItOnlyWhileAGapIsOpen()
    {
        var cache = new DeviceCache();
        Assert.False(cache.IsHandled(new MessageKey("b1", 0)));

        cache.Acked(new MessageKey("b1", 4));
        cache.Acked(new MessageKey("b1", 2));
        cache.Handled(new MessageKey("b1", 3));
        Assert.True(cache.IsHandled(new MessageKey("b1", 4)));
        Assert.False(cache.IsHandled(new MessageKey("b1", 5)));
        Assert.False(cache.IsHandled(new MessageKey("b2", 0)));
        Assert.False(cache.HoldsBeyondAck);

        // 6 and 7 arrive, 5 is lost: the ack stays at 4, and the resends of 6 and 7 are known.
        cache.Acked(new MessageKey("b1", 4));
        cache.Handled(new MessageKey("b1", 6));
        cache.Handled(new MessageKey("b1", 7));
        Assert.True(cache.HoldsBeyondAck);
        Assert.True(cache.IsHandled(new MessageKey("b1", 7)));
        Assert.False(cache.IsHandled(new MessageKey("b1", 5)));

        // 5 fills the gap: the ack covers it all and nothing is held apart any more.
        cache.Acked(new MessageKey("b1", 7));
        cache.Handled(new MessageKey("b1", 5));
        Assert.False(cache.HoldsBeyondAck);
        Assert.True(cache.IsHandled(new MessageKey("b1", 6)));

        // A reboot: the new boot's ack, and the old boot is no longer the mark.
        cache.Acked(new MessageKey("b2", 0));
        Assert.True(cache.IsHandled(new MessageKey("b2", 0)));
        Assert.False(cache.IsHandled(new MessageKey("b1", 0)));
        Assert.Equal(0, cache.CustomMetricCount);
    }

    /// <summary>A device whose later messages arrived before a lost one resends all of them until the gap is filled
    /// (the ack stays below the gap): each reading is stored once, and the cache holds nothing apart afterwards.</summary>
    [Fact]
    public async Task ResendsAfterALostMessage_AreStoredOnce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1795428000000 + 60_000));
        var twins = new ProgressTwins(time);
        var store = new NullStore();
        var (channel, counters, replies, run, stop) = Start(twins, time, store);

        foreach (var seq in new uint[] { 0, 2, 3 })
        {
            await channel.Writer.WriteAsync(Telemetry("b1", seq));
        }

        await Until.DoneAsync(() => twins.Applied == 3, "0, 2 and 3 applied");
        foreach (var seq in new uint[] { 1, 2, 3 })
        {
            await channel.Writer.WriteAsync(Telemetry("b1", seq));
        }

        // 1 may be a round of its own, acknowledged as 3 (it closes the gap) before the resends of 2 and 3 are taken:
        // they are handled once both are counted. A resend that were stored would be counted after its store write.
        await Until.DoneAsync(() => replies.Acks.Any(a => a.Ack == new MessageKey("b1", 3)) && counters.Duplicates >= 2, "the ack of 3, and both resends counted");
        Assert.Equal(["seq=0", "seq=1", "seq=2", "seq=3"], store.Seqs.Order(StringComparer.Ordinal));
        Assert.Equal(2, counters.Duplicates);
        Assert.Equal(4, twins.Applied);

        await stop.CancelAsync();
        await run;
    }

    /// <summary>A redelivery the pipeline's cache cannot tell (of an older boot, below the gap it holds) reaches the
    /// grain as a new message, which the grain neither applies again nor fails to report; those the cache does tell
    /// (its ack, what it holds beyond a gap) are sent as known, without their readings. Each is counted once.</summary>
    [Fact]
    public async Task Redeliveries_AreAppliedOnce_AndEachIsCountedOnce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1795428000000 + 60_000));
        var twins = new ProgressTwins(time);
        var (channel, counters, replies, run, stop) = Start(twins, time);

        // Seq 0 and 2 of b1 (1 lost), then seq 0 of b2 (a reboot): the cache holds b2's ack only.
        foreach (var (boot, seq) in new[] { ("b1", 0u), ("b1", 2u) })
        {
            await channel.Writer.WriteAsync(Telemetry(boot, seq));
            await Until.DoneAsync(() => twins.Applied == seq / 2 + 1, $"{boot}:{seq} applied");
        }

        await channel.Writer.WriteAsync(Telemetry("b2", 0));
        await Until.DoneAsync(() => twins.Applied == 3, "b2:0 applied");
        Assert.Equal(0, counters.Duplicates);

        // Redelivered: b1:2 (beyond b1's gap), b1:0 (an older boot), b2:0 (the cache's own ack).
        var before = twins.Sent.Count;
        foreach (var (boot, seq) in new[] { ("b1", 2u), ("b1", 0u), ("b2", 0u) })
        {
            await channel.Writer.WriteAsync(Telemetry(boot, seq));
        }

        await Until.DoneAsync(() => counters.Duplicates == 3, "three duplicates counted");
        Assert.Equal(3, twins.Applied);
        var sent = twins.Sent.Skip(before).ToDictionary(m => m.Key);
        Assert.Equal((true, 0), (sent[new MessageKey("b1", 2)].Known, sent[new MessageKey("b1", 2)].ReadingCount));
        Assert.Equal((false, 1), (sent[new MessageKey("b1", 0)].Known, sent[new MessageKey("b1", 0)].ReadingCount));
        Assert.Equal((true, 0), (sent[new MessageKey("b2", 0)].Known, sent[new MessageKey("b2", 0)].ReadingCount));
        // Every redelivery was answered with its boot's ack: b1 stays at 0 (seq 1 is missing), b2 at 0.
        Assert.Equal([new MessageKey("b1", 0), new MessageKey("b2", 0)], replies.Acks.Skip(3).Select(a => a.Ack).Distinct().OrderBy(k => k.Boot, StringComparer.Ordinal));

        await stop.CancelAsync();
        await run;
    }

    /// <summary>Found in review: a grain call that timed out after the grain had applied the batch was tried again, and
    /// the grain's "already applied" on the retry was counted as a duplicate the device never sent.</summary>
    [Fact]
    public async Task AMessageDeliveredOnce_WhoseGrainCallTimedOutAfterApplying_IsNotADuplicate()
    {
        var twins = new ProgressTwins(TimeProvider.System) { FailAfterApplying = 1 };
        var (channel, counters, replies, run, stop) = Start(twins, TimeProvider.System);

        await channel.Writer.WriteAsync(Telemetry("b1", 0));
        await Until.DoneAsync(() => replies.Acks.Count == 1, "the ack");

        Assert.Equal((1, 2), (twins.Applied, twins.Calls));
        Assert.Equal(0, counters.Duplicates);
        await stop.CancelAsync();
        await run;
    }

    /// <summary>Found in review: a message rejected as a whole and sent again was counted as a rejection and, by the
    /// grain, as a duplicate as well.</summary>
    [Fact]
    public async Task ARejectedMessageRedelivered_IsCountedAsARejectionOnly()
    {
        var twins = new ProgressTwins(TimeProvider.System);
        var (channel, counters, replies, run, stop) = Start(twins, TimeProvider.System);
        var rejected = Message("""{"v":2,"boot":"b1","seq":0,"readings":[]}""");

        await channel.Writer.WriteAsync(rejected);
        await Until.DoneAsync(() => replies.Acks.Count == 1, "the first ack");
        await channel.Writer.WriteAsync(Message("""{"v":2,"boot":"b1","seq":0,"readings":[]}"""));
        await Until.DoneAsync(() => replies.Acks.Count == 2, "the second ack");

        Assert.Equal(2, counters.Rejections(RejectReason.UnsupportedVersion));
        Assert.Equal(0, counters.Duplicates);
        await stop.CancelAsync();
        await run;
    }

    private static (Channel<InboundMessage>, IngestCounters, RecordingReplies, Task, CancellationTokenSource) Start(ProgressTwins twins, TimeProvider time, NullStore? store = null)
    {
        var channel = Channel.CreateUnbounded<InboundMessage>();
        var replies = new RecordingReplies();
        var counters = new IngestCounters(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());
        var worker = new PartitionWorker(channel.Reader, twins, replies, store ?? new NullStore(), counters, new UplinkOptions(),
            new PipelineOptions { Partitions = 1, GrainAttempts = 2 }, time, NullLogger.Instance);
        var stop = new CancellationTokenSource();
        return (channel, counters, replies, Task.Run(() => worker.RunAsync(stop.Token)), stop);
    }

    private static InboundMessage Message(string json) => InboundMessage.Copy("shoe-1", UplinkTopic.Telemetry,
        new System.Buffers.ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json)), null);

    private static InboundMessage Telemetry(string boot, uint seq) => Message(
        $$$"""{"v":1,"boot":"{{{boot}}}","seq":{{{seq}}},"readings":[{"ts":1795428000000,"m":{"distance_m":{{{seq + 1}}}}}]}""");

    /// <summary>Twins that dedupe as the device grain does, with its real progress type, report duplicates as it does,
    /// and record what they were sent. <see cref="FailAfterApplying"/> calls apply the batch, then fail (a response
    /// that timed out).</summary>
    private sealed class ProgressTwins(TimeProvider time) : IDeviceTwins
    {
        private readonly ConcurrentDictionary<string, DeviceProgress> _progress = new(StringComparer.Ordinal);
        private readonly ConcurrentQueue<BatchMessage> _sent = new();
        private int _applied;
        private int _calls;

        public int FailAfterApplying { get; set; }

        public int Applied => Volatile.Read(ref _applied);

        public int Calls => Volatile.Read(ref _calls);

        public List<BatchMessage> Sent => [.. _sent];

        public Task<IngestProfile> GetIngestProfileAsync(string deviceId) => Task.FromResult(new IngestProfile(null, []));

        public Task<IngestResult> IngestAsync(string deviceId, TelemetryBatch batch)
        {
            Interlocked.Increment(ref _calls);
            var progress = _progress.GetOrAdd(deviceId, _ => new DeviceProgress());
            lock (progress)
            {
                int duplicates = 0, unseen = 0;
                var boots = new List<string>();
                foreach (var message in batch.Messages)
                {
                    _sent.Enqueue(message);
                    if (!boots.Contains(message.Key.Boot))
                    {
                        boots.Add(message.Key.Boot);
                    }

                    if (progress.Record(message.Key, time.GetUtcNow(), new DedupeOptions()) == SeqOutcome.Duplicate)
                    {
                        duplicates++;
                        unseen += message.Known ? 0 : 1;
                    }
                    else
                    {
                        Interlocked.Increment(ref _applied);
                    }
                }

                if (FailAfterApplying > 0)
                {
                    FailAfterApplying--;
                    return Task.FromException<IngestResult>(new TimeoutException("the response timed out after the batch was applied"));
                }

                var acks = boots.Select(progress.AckFor).OfType<MessageKey>().ToArray();
                return Task.FromResult(new IngestResult(acks, duplicates)
                {
                    UnseenDuplicates = unseen,
                    Profile = batch.WantsProfile ? new IngestProfile(null, []) : null,
                });
            }
        }
    }

    /// <summary>Takes every write and keeps the seq field of each line.</summary>
    private sealed class NullStore : IReadingStore
    {
        private readonly ConcurrentQueue<string> _seqs = new();

        public List<string> Seqs => [.. _seqs];

        public ValueTask<bool> StoreAsync(ReadOnlyMemory<byte> lines, int lineCount, CancellationToken cancellationToken)
        {
            foreach (var line in Encoding.UTF8.GetString(lines.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                _seqs.Enqueue(System.Text.RegularExpressions.Regex.Match(line, "seq=[0-9]+").Value);
            }

            return ValueTask.FromResult(true);
        }
    }
}
