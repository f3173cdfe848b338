using Telemetry.Fuzz;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// Keeps what fuzzing found fixed: the fuzz harness's contract check (tests/Telemetry.Fuzz) over its seeds (the
/// uplink vectors) and over every input that once made a decoder fail (tests/fuzz/regressions); and checks
/// that the check itself catches a broken result, so a passing run means something.
/// </summary>
public sealed class FuzzRegressionTests
{
    private static readonly string Regressions = Path.Combine(AppContext.BaseDirectory, "fuzz-regressions");

    public static TheoryData<string> Seeds => new(Vectors.Entries.Select(e => e.GetProperty("file").GetString()!)
        .Concat(Vectors.Entries.Where(e => e.GetProperty("topic").GetString() == "telemetry")
            .Select(e => CborVectorTests.TwinName(e.GetProperty("file").GetString()!))));

    public static TheoryData<string> PastFindings => Files(Regressions);

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Contract_HoldsForEverySeed(string file) =>
        DecoderContract.Check(File.ReadAllBytes(Path.Combine(Vectors.Root, file)));

    [Theory]
    [MemberData(nameof(PastFindings))]
    public void Contract_HoldsForEveryPastFinding(string file) =>
        DecoderContract.Check(File.ReadAllBytes(Path.Combine(Regressions, file)));

    [Theory]
    [InlineData("telemetry-lone-surrogate-in-field-name")]
    [InlineData("telemetry-lone-surrogate-in-reading-field-name")]
    [InlineData("telemetry-lone-surrogate-in-metric-name")]
    public void TelemetryDecode_RejectsALoneSurrogateAsMalformedJson(string file)
    {
        var decoded = new DecodedTelemetry();

        var reason = new TelemetryDecoder(new UplinkOptions()).Decode(Read(file), DecoderContract.NowMs, decoded);

        Assert.Equal(RejectReason.MalformedJson, reason);
        Assert.Contains("surrogate", decoded.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("birth-invalid-utf8-in-field-name", "UTF-8")]
    [InlineData("birth-invalid-utf8-in-string-value", "UTF-8")]
    [InlineData("birth-invalid-utf8-in-part-name", "UTF-8")]
    [InlineData("birth-invalid-utf8-in-part-serial", "UTF-8")]
    [InlineData("birth-lone-surrogate-in-string-value", "surrogate")]
    public void BirthDecode_RejectsBrokenTextAsMalformedJson(string file, string why)
    {
        var birth = BirthDecoder.Decode(Read(file), out var reason, out var detail);

        Assert.Null(birth);
        Assert.Equal(RejectReason.MalformedJson, reason);
        Assert.Contains(why, detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Contract_FailsOnAnAcceptedValueThatIsNotFinite()
    {
        var decoded = AcceptedMessage(new MetricValue("impact_g", double.NaN));

        var failure = Assert.Throws<DecoderContractException>(() => DecoderContract.Verify(RejectReason.None, decoded));
        Assert.Equal("telemetry: accepted impact_g=NaN in reading 0: not finite", failure.Message);
    }

    [Fact]
    public void Contract_FailsOnACatalogueValueOutOfRange()
    {
        var decoded = AcceptedMessage(new MetricValue("impact_g", 41));

        var failure = Assert.Throws<DecoderContractException>(() => DecoderContract.Verify(RejectReason.None, decoded));
        Assert.Equal("telemetry: accepted impact_g=41 in reading 0, outside 0..40", failure.Message);
    }

    [Fact]
    public void Contract_FailsOnARejectionWithoutDetail()
    {
        var decoded = new DecodedTelemetry { Reason = RejectReason.MissingField };

        var failure = Assert.Throws<DecoderContractException>(() => DecoderContract.Verify(RejectReason.MissingField, decoded));
        Assert.Equal("telemetry: rejected with missing_field but no detail", failure.Message);
    }

    [Fact]
    public void Contract_FailsOnAnAcceptedBirthOutsideItsRules()
    {
        var birth = new DeviceBirth { Kind = "shoe", Model = "m/1", Batch = "b", Firmware = "1", Manufactured = new DateOnly(2025, 7, 14) };

        var failure = Assert.Throws<DecoderContractException>(() => DecoderContract.Verify(birth, RejectReason.None, null));
        Assert.Equal("birth: accepted model 'm/1'", failure.Message);
    }

    [Fact]
    public void Contract_FingerprintsTheOutcomeSoThatARepeatedDecodeCanBeCompared()
    {
        var once = DecoderContract.Verify(RejectReason.None, AcceptedMessage(new MetricValue("impact_g", 9.8)));
        var again = DecoderContract.Verify(RejectReason.None, AcceptedMessage(new MetricValue("impact_g", 9.8)));
        var other = DecoderContract.Verify(RejectReason.None, AcceptedMessage(new MetricValue("impact_g", 9.9)));

        Assert.Equal(once, again);
        Assert.NotEqual(once, other);
    }

    /// <summary>A message as the decoder would leave it after accepting one reading with <paramref name="metric"/>.</summary>
    private static DecodedTelemetry AcceptedMessage(MetricValue metric)
    {
        var decoded = new DecodedTelemetry { Version = 1, Boot = "b1", Seq = 0, ReadingCount = 1, MetricCount = 1 };
        decoded.Readings[0] = new DecodedReading { TimestampMs = DecoderContract.NowMs, MetricStart = 0, MetricCount = 1 };
        decoded.Metrics[0] = metric;
        return decoded;
    }

    private static byte[] Read(string file) => File.ReadAllBytes(Path.Combine(Regressions, file));

    private static TheoryData<string> Files(string root)
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.EnumerateFiles(root).Order(StringComparer.Ordinal))
        {
            // .gitattributes keeps the regression inputs byte for byte; it is not one of them.
            if (!Path.GetFileName(path).StartsWith('.'))
            {
                data.Add(Path.GetFileName(path));
            }
        }

        return data;
    }
}
