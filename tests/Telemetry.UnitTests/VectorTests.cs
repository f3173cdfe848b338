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

    [Fact]
    public void BirthParts_AreRead_AndPartNamesThisVersionDoesNotKnowAreSkipped()
    {
        var birth = BirthDecoder.Decode(
            """{"v":1,"kind":"shoe","model":"m","batch":"b","firmware":"1","manufactured":"2025-07-14","parts":{"insole":"IN-7","laces":"L-1","shoe":"S.2"}}"""u8,
            out _, out _);

        Assert.NotNull(birth);
        Assert.Equal(new Telemetry.Grains.Ingest.InstalledParts { Shoe = "S.2", Insole = "IN-7" }, birth.Parts);
    }

    [Theory]
    [InlineData("""{"battery":42}""")]
    [InlineData("""{"battery":"has space"}""")]
    [InlineData("[]")]
    public void BirthParts_WithAnInvalidSerial_RejectTheBirthAsInvalidField(string parts)
    {
        var birth = BirthDecoder.Decode(
            System.Text.Encoding.UTF8.GetBytes($$"""{"v":1,"kind":"band","model":"m","batch":"b","firmware":"1","manufactured":"2025-07-14","parts":{{parts}}}"""),
            out var reason, out var detail);

        Assert.Null(birth);
        Assert.Equal(RejectReason.InvalidField, reason);
        Assert.Contains("parts", detail, StringComparison.Ordinal);
    }
}
