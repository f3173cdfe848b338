using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>Dedupe by boot age with gap ranges (issue 11, item 6): never ack a gap, remember boots for 30 days.</summary>
public sealed class BootMemoryTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
    private static readonly DedupeOptions Defaults = new();

    [Fact]
    public void Ack_IsTheHighestContiguousSeq_ForAnyArrivalOrderAndLoss()
    {
        // Seeded: the same shuffled, lossy stream every run; checked against a plain set of what arrived.
        var random = new Random(11);
        var tracker = new SeqTracker("b1");
        var arrived = new HashSet<uint>();
        var order = Enumerable.Range(0, 5000).Select(i => (uint)i).Where(_ => random.NextDouble() > 0.02).OrderBy(_ => random.Next()).ToList();
        foreach (var seq in order)
        {
            Assert.Equal(SeqOutcome.Recorded, tracker.Record(seq, 100_000));
            arrived.Add(seq);
            Assert.Equal(SeqOutcome.Duplicate, tracker.Record(seq, 100_000));
        }

        var expectedAck = -1L;
        while (arrived.Contains((uint)(expectedAck + 1)))
        {
            expectedAck++;
        }

        Assert.Equal(expectedAck, tracker.Contiguous);
        var gaps = Enumerable.Range(0, 5000).Select(i => (uint)i).Where(s => s <= arrived.Max() && !arrived.Contains(s)).ToList();
        var missing = tracker.Missing(int.MaxValue).SelectMany(r => Enumerable.Range((int)r.From, (int)(r.To - r.From + 1)).Select(i => (uint)i)).ToList();
        Assert.Equal(gaps, missing);
        Assert.All(Enumerable.Range(0, 5000).Select(i => (uint)i), s => Assert.Equal(arrived.Contains(s), tracker.IsDuplicate(s)));
    }

    [Fact]
    public void Tracker_RefusesANewRunBeyondItsLimit_AndKeepsEverythingItHas()
    {
        var tracker = new SeqTracker("b1");
        tracker.Record(0, 3);
        tracker.Record(2, 3);
        tracker.Record(4, 3);
        tracker.Record(6, 3);

        Assert.Equal(SeqOutcome.Refused, tracker.Record(8, 3));
        Assert.False(tracker.IsDuplicate(8));
        Assert.Equal(1, tracker.Refused);
        // Extending a run is still fine: it does not add one.
        Assert.Equal(SeqOutcome.Recorded, tracker.Record(7, 3));
        Assert.Equal([new SeqRange(1, 1), new SeqRange(3, 3), new SeqRange(5, 5)], tracker.Missing(16));
        Assert.Equal(0, tracker.Contiguous);
    }

    [Fact]
    public void Missing_NamesAtMostTheRequestedGaps_LowestFirst()
    {
        var tracker = new SeqTracker("b1");
        for (uint seq = 0; seq < 100; seq += 2)
        {
            tracker.Record(seq);
        }

        var missing = tracker.Missing(16);
        Assert.Equal(16, missing.Length);
        Assert.Equal(new SeqRange(1, 1), missing[0]);
        Assert.Equal(new SeqRange(31, 31), missing[^1]);
    }

    [Fact]
    public void OldBoot_WithinItsMemory_IsStillDeduped_AfterManyBootsInBetween()
    {
        var progress = new DeviceProgress();
        var now = Start;
        Assert.Equal(SeqOutcome.Recorded, progress.Record(new MessageKey("old", 0), now, Defaults));
        for (var boot = 0; boot < 100; boot++)
        {
            now = now.AddHours(6);
            progress.Record(new MessageKey($"b{boot}", 0), now, Defaults);
        }

        // 25 days later, a resend of the old boot's message: not applied again.
        Assert.Equal(SeqOutcome.Duplicate, progress.Record(new MessageKey("old", 0), now, Defaults));
        Assert.Equal(new MessageKey("old", 0), progress.AckFor("old"));
    }

    [Fact]
    public void Boot_IsForgotten_OnceSilentLongerThanItsMemory()
    {
        var progress = new DeviceProgress();
        progress.Record(new MessageKey("old", 0), Start, Defaults);
        progress.Record(new MessageKey("new", 0), Start.AddDays(29), Defaults);
        Assert.NotNull(progress.AckFor("old"));

        progress.Record(new MessageKey("new", 1), Start.AddDays(30).AddMinutes(1), Defaults);

        Assert.Null(progress.AckFor("old"));
        Assert.Equal(new MessageKey("new", 1), progress.AckFor("new"));
        Assert.Equal(0, progress.BootsEvicted);
    }

    [Fact]
    public void BootCap_EvictsTheBootSeenLongestAgo_AndCountsIt()
    {
        var options = new DedupeOptions { MaxBoots = 3 };
        var progress = new DeviceProgress();
        progress.Record(new MessageKey("a", 0), Start, options);
        progress.Record(new MessageKey("b", 0), Start.AddMinutes(1), options);
        progress.Record(new MessageKey("c", 0), Start.AddMinutes(2), options);
        // "a" is the oldest boot but was seen again last: "b" goes.
        progress.Record(new MessageKey("a", 1), Start.AddMinutes(3), options);
        progress.Record(new MessageKey("d", 0), Start.AddMinutes(4), options);

        Assert.Null(progress.AckFor("b"));
        Assert.Equal(new MessageKey("a", 1), progress.AckFor("a"));
        Assert.Equal(3, progress.BootCount);
        Assert.Equal(1, progress.BootsEvicted);
    }

    [Fact]
    public void OldFormat_WithSeqsAheadAsAList_LoadsAndMigratesToRanges()
    {
        var serializer = new ServiceCollection()
            .AddSerializer(b => b.AddAssembly(typeof(SeqTracker).Assembly))
            .BuildServiceProvider()
            .GetRequiredService<Serializer>();
        var old = SeqTracker.FromOldFormat("b1", 5, [7, 8, 9, 12]);

        var loaded = serializer.Deserialize<SeqTracker>(serializer.SerializeToArray(old))!;

        Assert.Equal(5, loaded.Contiguous);
        Assert.True(loaded.IsDuplicate(8));
        Assert.False(loaded.IsDuplicate(10));
        Assert.Equal([new SeqRange(6, 6), new SeqRange(10, 11)], loaded.Missing(16));
        Assert.True(loaded.Record(6));
        Assert.Equal(9, loaded.Contiguous);

        // Migrated and written again, it stays migrated.
        var again = serializer.Deserialize<SeqTracker>(serializer.SerializeToArray(loaded))!;
        Assert.Equal([new SeqRange(10, 11)], again.Missing(16));
    }

    [Fact]
    public void OldTwin_WithUnagedBoots_KeepsThemForAFullMemoryFromNow()
    {
        var serializer = new ServiceCollection()
            .AddSerializer(b => b.AddAssembly(typeof(SeqTracker).Assembly))
            .BuildServiceProvider()
            .GetRequiredService<Serializer>();
        var state = new DeviceState();
        state.Progress.Record(new MessageKey("old", 0));
        var loaded = serializer.Deserialize<DeviceState>(serializer.SerializeToArray(state))!;

        loaded.Progress.Record(new MessageKey("new", 0), Start, Defaults);
        Assert.Equal(SeqOutcome.Duplicate, loaded.Progress.Record(new MessageKey("old", 0), Start.AddDays(29), Defaults));
        Assert.NotNull(loaded.Outbox);
        Assert.True(loaded.Outbox.IsEmpty);
    }

    [Fact]
    public void DedupeOptions_AreCheckedAtStart()
    {
        var validator = new DedupeOptionsValidator();
        Assert.True(validator.Validate(null, new DedupeOptions()).Succeeded);

        var result = validator.Validate(null, new DedupeOptions { BootMemory = TimeSpan.Zero, MaxBoots = 0, MaxGapRanges = 0, MissingInAck = -1 });
        Assert.True(result.Failed);
        foreach (var key in new[] { "Uplink:BootMemory", "Uplink:MaxBoots", "Uplink:MaxGapRanges", "Uplink:MissingInAck" })
        {
            Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void OutboxRetries_BackOffExponentially_UpToFiveMinutes()
    {
        Assert.Equal(
            [TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)],
            Enumerable.Range(1, 4).Select(DeviceGrain.RetryDelay));
        Assert.Equal(TimeSpan.FromSeconds(256), DeviceGrain.RetryDelay(10));
        Assert.Equal(TimeSpan.FromMinutes(5), DeviceGrain.RetryDelay(11));
        Assert.Equal(TimeSpan.FromMinutes(5), DeviceGrain.RetryDelay(1000));
    }
}
