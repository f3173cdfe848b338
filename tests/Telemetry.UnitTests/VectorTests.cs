using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class VectorTests
{
    private readonly TelemetryDecoder _decoder = new(new UplinkOptions());

    public static TheoryData<string> TelemetryVectors => Vectors.Files("telemetry");

    public static TheoryData<string> BirthVectors => Vectors.Files("birth");

    [Theory]
    [MemberData(nameof(TelemetryVectors))]
    public void TelemetryVector_DecodesToTheManifestOutcome(string file)
    {
        var expected = Vectors.Entry(file);
        var decoded = new DecodedTelemetry();

        var reason = _decoder.Decode(Vectors.Read(file), Vectors.NowMs, decoded);

        if (expected.TryGetProperty("message_reason", out var messageReason))
        {
            Assert.Equal(messageReason.GetString(), reason.WireName());
            Assert.False(string.IsNullOrEmpty(decoded.Detail));
            return;
        }

        Assert.Equal(RejectReason.None, reason);
        var accepted = decoded.ReadingCount - decoded.RejectedReadings;
        Assert.Equal(expected.GetProperty("accepted_readings").GetInt32(), accepted);
        var rejections = expected.TryGetProperty("rejections", out var r) ? [.. r.EnumerateArray()] : Array.Empty<System.Text.Json.JsonElement>();
        Assert.Equal(rejections.Length, decoded.RejectedReadings);
        foreach (var rejection in rejections)
        {
            var reading = decoded.Readings[rejection.GetProperty("reading").GetInt32()];
            Assert.Equal(rejection.GetProperty("reason").GetString(), reading.Reason.WireName());
            Assert.False(string.IsNullOrEmpty(reading.Detail));
        }
    }

    [Theory]
    [MemberData(nameof(BirthVectors))]
    public void BirthVector_DecodesToTheManifestOutcome(string file)
    {
        var expected = Vectors.Entry(file);

        var birth = BirthDecoder.Decode(Vectors.Read(file), out var reason, out var detail);

        if (expected.TryGetProperty("message_reason", out var messageReason))
        {
            Assert.Null(birth);
            Assert.Equal(messageReason.GetString(), reason.WireName());
            Assert.False(string.IsNullOrEmpty(detail));
        }
        else
        {
            Assert.NotNull(birth);
            Assert.Contains(birth.Kind, new[] { "shoe", "band" });
        }
    }

    [Fact]
    public void EveryReasonCode_IsCoveredByAVectorOrADedicatedTest()
    {
        var covered = Vectors.Entries
            .SelectMany(e => e.TryGetProperty("rejections", out var r)
                ? r.EnumerateArray().Select(x => x.GetProperty("reason").GetString()!)
                : e.TryGetProperty("message_reason", out var m) ? [m.GetString()!] : [])
            .ToHashSet();
        // rate_limited depends on message rate, not payload: PartitionWorkerTests.Stage_RateLimitsBeyondTheBurst.
        covered.Add(RejectReason.RateLimited.WireName());

        Assert.Empty(RejectReasons.All.Select(r => r.WireName()).Except(covered));
    }
}
