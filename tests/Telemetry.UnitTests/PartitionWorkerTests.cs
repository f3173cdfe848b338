using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using System.Diagnostics.Metrics;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class PartitionWorkerTests
{
    private readonly RecordingReplies _replies = new();
    private readonly IngestCounters _counters = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());

    private PartitionWorker Worker(UplinkOptions? uplink = null) => new(
        Channel.CreateUnbounded<InboundMessage>().Reader, null!, _replies, null!, _counters, uplink ?? new UplinkOptions(),
        new PipelineOptions(), TimeProvider.System, NullLogger.Instance);

    private static InboundMessage Message(string device, string json, UplinkTopic topic = UplinkTopic.Telemetry)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        return new InboundMessage(device, topic, bytes, bytes.Length, null);
    }

    private static string Telemetry(uint seq, string boot = "b1") =>
        $$$"""{"v":1,"boot":"{{{boot}}}","seq":{{{seq}}},"readings":[{"ts":1795428000000,"m":{"distance_m":1000}}]}""";

    [Fact]
    public void Stage_BatchesReadingsPerDevice()
    {
        var worker = Worker();
        worker.Stage(Message("shoe-1", Telemetry(0)), Vectors.NowMs);
        worker.Stage(Message("shoe-2", Telemetry(0)), Vectors.NowMs);
        worker.Stage(Message("shoe-1", Telemetry(1)), Vectors.NowMs);

        var batches = worker.Round.ToDictionary(b => b.DeviceId, b => b.Build());
        Assert.Equal(2, batches["shoe-1"].Messages.Length);
        Assert.Equal(2, batches["shoe-1"].Readings.Length);
        Assert.Single(batches["shoe-2"].Readings);
    }

    [Fact]
    public void Stage_RepeatedMessageInARound_IsHandledOnceAndReAcked()
    {
        var worker = Worker();
        worker.Stage(Message("shoe-1", Telemetry(0)), Vectors.NowMs);
        worker.Stage(Message("shoe-1", Telemetry(0)), Vectors.NowMs);

        var batch = worker.Round.Single().Build();
        Assert.Equal(2, batch.Messages.Length);
        Assert.Single(batch.Readings);
        Assert.Equal(1, _counters.Duplicates);
    }

    [Fact]
    public void Stage_MessageRejectedAsAWhole_StillCountsForTheAck()
    {
        var worker = Worker();
        worker.Stage(Message("shoe-1", """{"v":2,"boot":"b1","seq":0,"readings":[]}"""), Vectors.NowMs);

        var batch = worker.Round.Single().Build();
        Assert.Equal(new MessageKey("b1", 0), batch.Messages.Single().Key);
        Assert.Empty(batch.Readings);
        var error = Assert.Single(_replies.Errors);
        Assert.Equal((RejectReason.UnsupportedVersion, "b1", 0u), (error.Reason, error.Boot, error.Seq!.Value));
        Assert.Equal(1, _counters.Rejections(RejectReason.UnsupportedVersion));
    }

    [Fact]
    public void Stage_ReportsEachRejectedReadingWithItsIndex()
    {
        var worker = Worker();
        worker.Stage(Message("shoe-1", Encoding.UTF8.GetString(Vectors.Read("invalid/value-out-of-range.json"))), Vectors.NowMs);

        var error = Assert.Single(_replies.Errors);
        Assert.Equal((RejectReason.ValueOutOfRange, 1), (error.Reason, error.Reading!.Value));
        Assert.Single(worker.Round.Single().Build().Readings);
        Assert.Equal(1, _counters.Rejections(RejectReason.ValueOutOfRange));
    }

    [Fact]
    public void Stage_MalformedMessage_IsReportedWithoutSeqAndNotAcked()
    {
        var worker = Worker();
        worker.Stage(Message("shoe-1", "{not json"), Vectors.NowMs);

        Assert.Empty(worker.Round);
        var error = Assert.Single(_replies.Errors);
        Assert.Equal(RejectReason.MalformedJson, error.Reason);
        Assert.Null(error.Seq);
    }

    [Fact]
    public void Stage_RateLimitsBeyondTheBurst()
    {
        var worker = Worker(new UplinkOptions { RateLimitBurst = 2, RateLimitPerSecond = 1 });
        for (uint seq = 0; seq < 3; seq++)
        {
            worker.Stage(Message("shoe-1", Telemetry(seq)), Vectors.NowMs);
        }

        // The third message is neither handled nor acked: the device keeps it and resends.
        Assert.Equal(2, worker.Round.Single().Build().Messages.Length);
        var error = Assert.Single(_replies.Errors);
        Assert.Equal((RejectReason.RateLimited, 2u), (error.Reason, error.Seq!.Value));
        Assert.Equal(1, _counters.Rejections(RejectReason.RateLimited));

        // A second later the bucket has a token again.
        worker.Stage(Message("shoe-1", Telemetry(2)), Vectors.NowMs + 1000);
        Assert.Equal(3, worker.Round.Single().Build().Messages.Length);
    }

    [Fact]
    public void Stage_InvalidBirth_IsReported()
    {
        var worker = Worker();
        worker.Stage(Message("shoe-1", Encoding.UTF8.GetString(Vectors.Read("invalid/birth-unknown-kind.json")), UplinkTopic.Birth), Vectors.NowMs);

        Assert.Equal(RejectReason.InvalidField, Assert.Single(_replies.Errors).Reason);
    }

    [Fact]
    public void Stage_OversizedPayload_IsRejectedWithoutBeingRead()
    {
        var worker = Worker();
        worker.Stage(new InboundMessage("shoe-1", UplinkTopic.Telemetry, null, 300_000_000, null), Vectors.NowMs);

        Assert.Equal(RejectReason.PayloadTooLarge, Assert.Single(_replies.Errors).Reason);
    }

    private sealed class RecordingReplies : IDeviceReplies
    {
        public List<ErrorReport> Errors { get; } = [];

        public List<(string Device, MessageKey Ack)> Acks { get; } = [];

        public void Ack(string deviceId, MessageKey ack) => Acks.Add((deviceId, ack));

        public bool Error(in ErrorReport report)
        {
            Errors.Add(report);
            return true;
        }
    }
}
