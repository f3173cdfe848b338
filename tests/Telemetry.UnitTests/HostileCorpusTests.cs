using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Uplink;
using Telemetry.Tests.Hostile;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// Every payload of the hostile corpus through the decoders: each gets exactly the reason docs/uplink.md
/// documents, and the valid readings beside it are accepted. HostileEndToEndTests sends the same corpus
/// through the running service.
/// </summary>
public sealed class HostileCorpusTests
{
    private static readonly List<HostileCase> Corpus = HostileCorpus.Generate(Vectors.NowMs);

    [Fact]
    public void Corpus_HasAtLeast2000PayloadsInAtLeast14Classes()
    {
        Assert.True(Corpus.Count >= 2000, $"{Corpus.Count} payloads");
        Assert.True(Corpus.Select(c => c.Class).Distinct().Count() >= 14, string.Join(", ", Corpus.Select(c => c.Class).Distinct()));
        Assert.Equal(Corpus.Count, Corpus.Select(c => c.ToString()).Distinct().Count());
    }

    [Fact]
    public void EveryHostilePayload_GetsItsDocumentedReason_AndItsValidReadingsAreAccepted()
    {
        var decoder = new TelemetryDecoder(new UplinkOptions());
        var decoded = new DecodedTelemetry();
        var wrong = new List<string>();
        foreach (var hostile in Corpus)
        {
            string outcome;
            if (hostile.Topic == HostileTopic.Birth)
            {
                var birth = BirthDecoder.Decode(hostile.Payload, out var reason, out var detail);
                outcome = birth is null ? $"{reason.WireName()} ({detail})" : "accepted";
                if (birth is null && string.IsNullOrEmpty(detail))
                {
                    wrong.Add($"{hostile}: no detail");
                }
            }
            else
            {
                var reason = decoder.Decode(hostile.Payload, Vectors.NowMs, decoded);
                outcome = reason != RejectReason.None
                    ? $"{reason.WireName()} ({decoded.Detail})"
                    : $"{decoded.ReadingCount - decoded.RejectedReadings} accepted; "
                        + string.Join(", ", decoded.ReadingSpan.ToArray().Select((r, i) => (r, i)).Where(x => x.r.Reason != RejectReason.None).Select(x => $"{x.i}:{x.r.Reason.WireName()}"));
            }

            var expected = hostile.MessageReason is { } messageReason
                ? messageReason
                : hostile.Topic == HostileTopic.Birth ? "accepted" : $"{hostile.AcceptedReadings} accepted; " + string.Join(", ", hostile.Rejections.Select(r => $"{r.Reading}:{r.Reason}"));
            if (!(outcome == expected || outcome.StartsWith(expected + " (", StringComparison.Ordinal)))
            {
                wrong.Add($"{hostile}: expected {expected}, got {outcome}");
            }
        }

        Assert.True(wrong.Count == 0, $"{wrong.Count} of {Corpus.Count} payloads:\n" + string.Join('\n', wrong.Take(40)));
    }

    [Fact]
    public void EveryTopicTrick_IsNeitherADeviceUplinkTopicNorAllowedForTheDevice()
    {
        var device = ClientIdentity.Device("shoe-1");
        foreach (var topic in HostileCorpus.TopicTricks("shoe-1"))
        {
            Assert.False(DeviceTopics.TryParse(topic, null, out _, out _, out _) && topic != "devices/shoe-1/telemetry", topic);
            Assert.NotEqual(PublishDecision.Allowed, BrokerAccess.CanPublish(device, topic, retain: false));
        }
    }
}
