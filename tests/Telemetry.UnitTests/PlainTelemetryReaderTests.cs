using System.Text;
using Telemetry.Fuzz;
using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// The plain reader may only ever be a faster way to the general reader's answer: every test here decodes the same
/// bytes with the decoder as it runs (plain path first) and with <see cref="System.Text.Json.Utf8JsonReader"/> alone,
/// and requires the same outcome down to each detail text and each value's bits. Others check that the plain path
/// is really taken for what firmware sends, so that agreement is not the general reader agreeing with itself.
/// </summary>
public sealed class PlainTelemetryReaderTests
{
    private static readonly long Now = Vectors.NowMs;

    private readonly TelemetryDecoder _decoder = new(new UplinkOptions());
    private readonly TelemetryDecoder _general = new(new UplinkOptions(), plainPath: false);
    private readonly TelemetryValidator _rules = new(new UplinkOptions());
    private readonly DecodedTelemetry _decoded = new();
    private readonly DecodedTelemetry _expected = new();

    public static TheoryData<string> TelemetryVectors => new(Vectors.Entries
        .Where(e => e.GetProperty("topic").GetString() == "telemetry")
        .Select(e => e.GetProperty("file").GetString()!));

    [Theory]
    [InlineData("valid/telemetry-shoe-run.json")]
    [InlineData("valid/telemetry-shoe-20.json")]
    [InlineData("valid/telemetry-band.json")]
    [InlineData("valid/telemetry-unknown-metric.json")]
    public void PlainReader_ReadsTheMessagesFirmwareSends(string file)
    {
        var payload = Vectors.Read(file);

        var plain = PlainTelemetryReader.TryDecode(payload, Now, _rules, _decoded, out var reason);

        Assert.True(plain, $"{file} went to the general reader");
        Assert.Equal(RejectReason.None, reason);
        Assert.Equal(_general.Decode(payload, Now, _expected), reason);
        SameOutcome(_expected, _decoded);
    }

    [Theory]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"impact_g":41}}]}""", "value_out_of_range")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":1.5}}]}""", "invalid_field")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":1,"steps":2}}]}""", "invalid_field")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"Bad":1}}]}""", "invalid_metric_name")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"device":1}}]}""", "invalid_metric_name")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1895428000000,"m":{"steps":1}}]}""", "timestamp_in_future")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1000,"m":{"steps":1}}]}""", "timestamp_too_old")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"m":{"steps":1}}]}""", "missing_field")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000}]}""", "missing_field")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{}}]}""", "invalid_field")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"m":{"Bad":1,"steps":2},"ts":1795428000000}]}""", "invalid_metric_name")]
    public void PlainReader_RejectsAReadingAsTheGeneralReaderDoes(string json, string expected)
    {
        var payload = Encoding.UTF8.GetBytes(json);

        Assert.True(PlainTelemetryReader.TryDecode(payload, Now, _rules, _decoded, out var reason));

        Assert.Equal((RejectReason.None, expected, 1), (reason, _decoded.Readings[0].Reason.WireName(), _decoded.RejectedReadings));
        Assert.Equal(_general.Decode(payload, Now, _expected), reason);
        SameOutcome(_expected, _decoded);
    }

    [Fact]
    public void PlainReader_RejectsA33rdMetricAsTheGeneralReaderDoes()
    {
        var metrics = string.Join(',', Enumerable.Range(0, 33).Select(k => $"\"x{k}\":{k}"));
        var payload = Encoding.UTF8.GetBytes("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{""" + metrics + "}}]}");

        Assert.True(PlainTelemetryReader.TryDecode(payload, Now, _rules, _decoded, out _));

        Assert.Equal(RejectReason.TooManyMetrics, _decoded.Readings[0].Reason);
        _general.Decode(payload, Now, _expected);
        SameOutcome(_expected, _decoded);
    }

    [Theory]
    [InlineData("""{"v":1,"boot":"b1","seq":0}""", "missing_field")]
    [InlineData("""{"v":2,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":1}}]}""", "unsupported_version")]
    [InlineData("""{"boot":"b1","seq":0,"readings":[]}""", "missing_field")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[]}""", "invalid_field")]
    [InlineData("""{}""", "missing_field")]
    public void PlainReader_FinishesTheMessageWithTheSharedRules(string json, string expected)
    {
        var payload = Encoding.UTF8.GetBytes(json);

        Assert.True(PlainTelemetryReader.TryDecode(payload, Now, _rules, _decoded, out var reason));

        Assert.Equal(expected, reason.WireName());
        Assert.Equal(_general.Decode(payload, Now, _expected), reason);
        SameOutcome(_expected, _decoded);
    }

    [Theory]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"st\u0065ps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"note":{"x":1},"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"note":true,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7e0}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":07}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"distance_m":1234567890.1234567}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":-1,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":4294967296,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1.0,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"b 1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"bé","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"ts":1795428000000,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":"7"}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7},}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000.5,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[7]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7}}]} x""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7}}]""")]
    [InlineData("""/**/{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":-}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":1.}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"x":1,"x\u0000":2}}]}""")]
    [InlineData("""{"v":2147483648,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":9223372036854775807,"m":{"steps":7}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7},"x":1}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7}}],"note":1e3}""")]
    public void PlainReader_LeavesAnythingElseToTheGeneralReader(string json)
    {
        var payload = Encoding.UTF8.GetBytes(json);

        Assert.False(PlainTelemetryReader.TryDecode(payload, Now, _rules, new DecodedTelemetry(), out _));

        Assert.Equal(_general.Decode(payload, Now, _expected), _decoder.Decode(payload, Now, _decoded));
        SameOutcome(_expected, _decoded);
    }

    [Theory]
    [InlineData("""{"v":2147483647,"boot":"b1","seq":4294967295,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""", "unsupported_version")]
    [InlineData("""{"v":1,"boot":"b1","seq":4294967295,"readings":[{"ts":999999999999999999,"m":{"steps":7}}]}""", "none")]
    [InlineData("""{"readings":[{"ts":1795428000000,"m":{"steps":7}}],"seq":3,"boot":"b1","v":1}""", "none")]
    [InlineData("""{"v":1,"note":"firmware 1.4","boot":"b1","build":20261127,"seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""", "none")]
    [InlineData(" \r\n\t{ \"v\" : 1 , \"boot\" : \"b1\" , \"seq\" : 0 , \"readings\" : [ { \"ts\" : 1795428000000 , \"m\" : { \"steps\" : 7 } } ] } \n", "none")]
    public void PlainReader_TakesTheLimitsAndOrdersThatStayPlain(string json, string expected)
    {
        var payload = Encoding.UTF8.GetBytes(json);

        Assert.True(PlainTelemetryReader.TryDecode(payload, Now, _rules, _decoded, out var reason));

        Assert.Equal(expected, reason == RejectReason.None ? "none" : reason.WireName());
        Assert.Equal(_general.Decode(payload, Now, _expected), reason);
        SameOutcome(_expected, _decoded);
    }

    /// <summary>Rejected readings: the ones the general reader skips whole must leave no trace (a custom name after the
    /// rejection must not count as one), and a bad name is reported before a reading's 33rd metric.</summary>
    [Theory]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"impact_g":99,"heel_wear_mm":1}}]}""", "value_out_of_range", false)]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"x0":0,"x1":1,"x2":2,"x3":3,"x4":4,"x5":5,"x6":6,"x7":7,"x8":8,"x9":9,"x10":10,"x11":11,"x12":12,"x13":13,"x14":14,"x15":15,"x16":16,"x17":17,"x18":18,"x19":19,"x20":20,"x21":21,"x22":22,"x23":23,"x24":24,"x25":25,"x26":26,"x27":27,"x28":28,"x29":29,"x30":30,"x31":31,"Bad":32}}]}""", "invalid_metric_name", true)]
    public void PlainReader_LeavesNoTraceOfARejectedReadingsLaterMetrics(string json, string expected, bool custom)
    {
        var payload = Encoding.UTF8.GetBytes(json);

        Assert.True(PlainTelemetryReader.TryDecode(payload, Now, _rules, _decoded, out _));

        Assert.Equal((expected, custom), (_decoded.Readings[0].Reason.WireName(), _decoded.HasCustomMetrics));
        _general.Decode(payload, Now, _expected);
        SameOutcome(_expected, _decoded);
    }

    /// <summary>Raw bytes JSON forbids in a string, or that must be checked as UTF-8, anywhere a plain string stands.</summary>
    [Theory]
    [InlineData(0x00)]
    [InlineData(0x1F)]
    [InlineData(0x80)]
    [InlineData(0xC3)]
    [InlineData(0xFF)]
    public void PlainReader_LeavesRawControlAndNonAsciiBytesToTheGeneralReader(byte raw)
    {
        foreach (var at in new[] { "bo|ot", "b|1", "st|eps", "no|te" })
        {
            var json = """{"v":1,"boot":"b1","note":"note","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7}}]}""";
            var marked = json.Replace(at.Replace("|", string.Empty, StringComparison.Ordinal), at, StringComparison.Ordinal);
            var payload = Encoding.UTF8.GetBytes(marked);
            payload[Array.IndexOf(payload, (byte)'|')] = raw;

            Assert.False(PlainTelemetryReader.TryDecode(payload, Now, _rules, new DecodedTelemetry(), out _), $"0x{raw:X2} in {at}");
            Assert.Equal(_general.Decode(payload, Now, _expected), _decoder.Decode(payload, Now, _decoded));
            SameOutcome(_expected, _decoded);
        }
    }

    [Fact]
    public void Decoder_ThatGaveUpLate_DecodesTheNextPlainMessageAlone()
    {
        var late = Encoding.UTF8.GetBytes("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":7,"heel_wear_mm":0.4}},{"ts":1795428001000,"m":{"distance_m":1234567890.1234567}}]}""");
        var plain = Encoding.UTF8.GetBytes("""{"v":1,"boot":"b1","seq":1,"readings":[{"ts":1795428002000,"m":{"steps":8}}]}""");

        _decoder.Decode(late, Now, _decoded);
        var reason = _decoder.Decode(plain, Now, _decoded);

        Assert.Equal(_general.Decode(plain, Now, _expected), reason);
        SameOutcome(_expected, _decoded);
        Assert.Equal((1, 1, false), (_decoded.ReadingCount, _decoded.MetricCount, _decoded.HasCustomMetrics));
    }

    [Fact]
    public void PlainReader_LeavesThe501stReadingToTheGeneralReader()
    {
        var readings = string.Join(',', Enumerable.Repeat("""{"ts":1795428000000,"m":{"steps":1}}""", 501));
        var payload = Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"b1","seq":0,"readings":[{{readings}}]}""");

        Assert.False(PlainTelemetryReader.TryDecode(payload, Now, _rules, new DecodedTelemetry(), out _));

        Assert.Equal(RejectReason.TooManyReadings, _decoder.Decode(payload, Now, _decoded));
        _general.Decode(payload, Now, _expected);
        SameOutcome(_expected, _decoded);
    }

    [Theory]
    [MemberData(nameof(TelemetryVectors))]
    public void Decoder_AgreesWithTheGeneralReader_OnEveryVector(string file) => Agree(Vectors.Read(file));

    /// <summary>
    /// Seeded mutations of real messages (bytes changed, removed, repeated, and JSON tokens put in) reach both the
    /// plain shape and everything around it; each must come out as the general reader has it.
    /// </summary>
    [Fact]
    public void Decoder_AgreesWithTheGeneralReader_OnSeededMutations()
    {
        var random = new Random(20261127);
        var seeds = Vectors.Entries
            .Where(e => e.GetProperty("topic").GetString() == "telemetry")
            .Select(e => Vectors.Read(e.GetProperty("file").GetString()!))
            .Where(p => p.Length < 8192)
            .ToArray();
        byte[][] tokens = [.. new[] { "\\u0065", "1e3", "-", "0", "00", ".", ",", "}", "]", "{", "[", "\"", " ", "\t", "\n", "null", "\"x\":1,",
            "\"ts\":", "\"m\":", "\"v\":1,", "\"seq\":", "1.5", "99999999999999999", "\u00e9", "\\", "-0", "4294967296" }.Select(Encoding.UTF8.GetBytes)];
        var (plain, general) = (0, 0);
        var probe = new DecodedTelemetry();
        for (var n = 0; n < 20_000; n++)
        {
            var payload = Mutate(seeds[random.Next(seeds.Length)], random, tokens);
            probe.Reset();
            if (PlainTelemetryReader.TryDecode(payload, Now, _rules, probe, out _))
            {
                plain++;
            }
            else
            {
                general++;
            }

            Agree(payload);
        }

        // Both paths were exercised: the mutations are not all too broken, nor all harmless.
        Assert.InRange(plain, 2_000, 18_000);
        Assert.InRange(general, 2_000, 18_000);
    }

    private static byte[] Mutate(byte[] seed, Random random, byte[][] tokens)
    {
        var bytes = new List<byte>(seed);
        for (var edits = random.Next(1, 3); edits > 0 && bytes.Count > 0; edits--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes.RemoveRange(at, Math.Min(random.Next(1, 8), bytes.Count - at));
                    break;
                case 2:
                    bytes.InsertRange(at, bytes.GetRange(at, Math.Min(random.Next(1, 40), bytes.Count - at)));
                    break;
                case 3:
                    bytes.InsertRange(at, tokens[random.Next(tokens.Length)]);
                    break;
                default:
                    // A digit changed: values move in and out of range and the time window, names stay readable.
                    if (char.IsAsciiDigit((char)bytes[at]))
                    {
                        bytes[at] = (byte)('0' + random.Next(10));
                    }

                    break;
            }
        }

        return [.. bytes];
    }

    private void Agree(byte[] payload)
    {
        var expected = _general.Decode(payload, Now, _expected);
        var actual = _decoder.Decode(payload, Now, _decoded);
        Assert.Equal(expected, actual);
        SameOutcome(_expected, _decoded);
    }

    /// <summary>Everything a decoded message holds, details included: the plain path must be indistinguishable.</summary>
    private static void SameOutcome(DecodedTelemetry expected, DecodedTelemetry actual) =>
        Assert.Null(DecoderContract.Difference(expected, actual));
}
