using Telemetry.Grains.Ingest;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class DedupeTests
{
    [Fact]
    public void RepeatedSeq_IsADuplicate()
    {
        var progress = new DeviceProgress();

        Assert.True(progress.Record(new MessageKey("b1", 0)));
        Assert.False(progress.Record(new MessageKey("b1", 0)));
        Assert.True(progress.IsDuplicate(new MessageKey("b1", 0)));
    }

    [Fact]
    public void NewBootId_IsNotADuplicate()
    {
        var progress = new DeviceProgress();
        progress.Record(new MessageKey("b1", 0));
        progress.Record(new MessageKey("b1", 1));

        Assert.False(progress.IsDuplicate(new MessageKey("b2", 0)));
        Assert.True(progress.Record(new MessageKey("b2", 0)));
        Assert.Equal(new MessageKey("b1", 1), progress.AckFor("b1"));
        Assert.Equal(new MessageKey("b2", 0), progress.AckFor("b2"));
    }

    [Fact]
    public void Ack_StaysAtTheHighestContiguousSeqUntilTheGapIsFilled()
    {
        var tracker = new SeqTracker("b1");
        tracker.Record(0);
        tracker.Record(1);
        tracker.Record(3);
        tracker.Record(4);

        Assert.Equal(1, tracker.Contiguous);
        Assert.True(tracker.IsDuplicate(3));
        Assert.False(tracker.IsDuplicate(2));

        tracker.Record(2);
        Assert.Equal(4, tracker.Contiguous);
    }

    [Fact]
    public void Ack_IsAbsentWhileSeqZeroIsMissing()
    {
        var progress = new DeviceProgress();
        progress.Record(new MessageKey("b1", 1));

        Assert.Null(progress.AckFor("b1"));
    }

    [Fact]
    public void Tracker_NeverSkipsAGap_HoweverFarTheDeviceGetsAhead()
    {
        var tracker = new SeqTracker("b1");
        tracker.Record(0);
        for (uint seq = 2; seq <= 10_000; seq++)
        {
            tracker.Record(seq);
        }

        Assert.Equal(0, tracker.Contiguous);
        Assert.Equal(1, tracker.RangeCount);
        Assert.Equal([new SeqRange(1, 1)], tracker.Missing(16));

        Assert.True(tracker.Record(1));
        Assert.Equal(10_000, tracker.Contiguous);
        Assert.Equal(0, tracker.RangeCount);
    }
}
