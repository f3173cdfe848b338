using System.Text;
using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class TelemetryDecoderTests
{
    private const long Now = 1_795_428_060_000;
    private readonly TelemetryDecoder _decoder = new(new UplinkOptions());
    private readonly DecodedTelemetry _decoded = new();

    private RejectReason Decode(string json) => _decoder.Decode(Encoding.UTF8.GetBytes(json), Now, _decoded);

    [Fact]
    public void Decode_ReadsHeaderReadingsAndMetricsInOrder()
    {
        var reason = Decode("""{"v":1,"boot":"b1","seq":42,"readings":[{"ts":1795428000000,"m":{"steps":10,"impact_g":9.5}},{"m":{"distance_m":812.5},"ts":1795428001000}]}""");

        Assert.Equal(RejectReason.None, reason);
        Assert.Equal(("b1", 42u), (_decoded.Boot, _decoded.Seq!.Value));
        Assert.Equal(2, _decoded.ReadingCount);
        Assert.Equal(1795428001000, _decoded.Readings[1].TimestampMs);
        Assert.Equal(("steps", 10.0), (_decoded.Metrics[0].Name, _decoded.Metrics[0].Value));
        Assert.Equal(("impact_g", 9.5), (_decoded.Metrics[1].Name, _decoded.Metrics[1].Value));
        Assert.Equal(("distance_m", 812.5), (_decoded.Metrics[2].Name, _decoded.Metrics[2].Value));
    }

    [Fact]
    public void Decode_UsesInternedNamesForCatalogueAndRepeatedUnknownMetrics()
    {
        Decode("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":1,"heel_wear_mm":0.4}}]}""");
        var first = _decoded.Metrics[1].Name;
        Decode("""{"v":1,"boot":"b1","seq":1,"readings":[{"ts":1795428000000,"m":{"steps":2,"heel_wear_mm":0.5}}]}""");

        Assert.Same(MetricCatalogue.Find("steps")!.Name, _decoded.Metrics[0].Name);
        Assert.Same(first, _decoded.Metrics[1].Name);
    }

    [Fact]
    public void Decode_MetricTwice_IsInvalidField_EvenAfterTheInternTableIsFull()
    {
        // Attack (issue 10 review): one 44 KB message of 128 readings x 32 new names fills the decoder's table of
        // 4096 interned names (shared by every device of the partition; the readings themselves are rejected later
        // as too_many_metrics). From then on a name outside the table is a new string each time, the duplicate check
        // compares references, and {"zz":1,"zz":2} is accepted and stored as zz=1,zz=2.
        var readings = string.Join(',', Enumerable.Range(0, 128).Select(r =>
            "{\"ts\":1795428000000,\"m\":{" + string.Join(',', Enumerable.Range(0, 32).Select(k => $"\"x{(r * 32) + k:D4}\":0")) + "}}"));
        Decode($$"""{"v":1,"boot":"b1","seq":0,"readings":[{{readings}}]}""");

        var reason = Decode("""{"v":1,"boot":"b1","seq":1,"readings":[{"ts":1795428000000,"m":{"zz":1,"zz":2}}]}""");

        Assert.Equal(RejectReason.None, reason);
        Assert.Equal((RejectReason.InvalidField, 1), (_decoded.Readings[0].Reason, _decoded.RejectedReadings));
    }

    [Fact]
    public void Decode_UnescapesMetricNames()
    {
        var reason = Decode("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"st\u0065ps":7}}]}""");

        Assert.Equal(RejectReason.None, reason);
        Assert.Equal(("steps", 7.0), (_decoded.Metrics[0].Name, _decoded.Metrics[0].Value));
    }

    [Fact]
    public void Decode_RejectsReadingWithDuplicateMetric()
    {
        Decode("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":1,"steps":2}}]}""");

        Assert.Equal(RejectReason.InvalidField, _decoded.Readings[0].Reason);
        Assert.Equal(0, _decoded.MetricCount);
    }

    [Fact]
    public void Decode_RejectsReadingOutOfRangeAndKeepsItsNeighbours()
    {
        Decode("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":1}},{"ts":1795428000000,"m":{"steps":5,"impact_g":912}},{"ts":1795428000000,"m":{"steps":3}}]}""");

        Assert.Equal(RejectReason.ValueOutOfRange, _decoded.Readings[1].Reason);
        Assert.Equal("impact_g=912 outside 0..40", _decoded.Readings[1].Detail);
        Assert.Equal([1.0, 3.0], _decoded.Metrics.Take(_decoded.MetricCount).Select(m => m.Value));
    }

    [Fact]
    public void Decode_RejectsNonFiniteNumber()
    {
        Decode("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"impact_g":1e400}}]}""");

        Assert.Equal(RejectReason.ValueOutOfRange, _decoded.Readings[0].Reason);
    }

    [Fact]
    public void Decode_RejectsTrailingGarbageAsMalformed()
    {
        Assert.Equal(RejectReason.MalformedJson, Decode("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":1}}]} {}"""));
    }

    [Fact]
    public void Decode_KeepsBootAndSeqOfAMessageRejectedAsAWhole()
    {
        var reason = Decode("""{"v":2,"boot":"b1","seq":9,"readings":[{"ts":1795428000000,"m":{"steps":1}}]}""");

        Assert.Equal(RejectReason.UnsupportedVersion, reason);
        Assert.Equal(("b1", 9u), (_decoded.Boot, _decoded.Seq!.Value));
    }

    [Theory]
    [InlineData("seq")]
    [InlineData("boot")]
    [InlineData("time")]
    [InlineData("device")]
    [InlineData("model")]
    [InlineData("batch")]
    public void Decode_RejectsAMetricNamedLikeWhatTheStoreWrites(string name)
    {
        var reason = Decode($$$"""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"{{{name}}}":1}},{"ts":1795428001000,"m":{"steps":5}}]}""");

        Assert.Equal(RejectReason.None, reason);
        Assert.Equal((RejectReason.InvalidMetricName, RejectReason.None), (_decoded.Readings[0].Reason, _decoded.Readings[1].Reason));
        Assert.Contains("reserved", _decoded.Readings[0].Detail, StringComparison.Ordinal);
        Assert.Equal(1, _decoded.RejectedReadings);
    }

    [Fact]
    public void Decode_RejectsAPayloadThatIsNotUtf8_EvenInAFieldItWouldSkip()
    {
        byte[] payload = [.. "{\"v\":1,\"boot\":\"b1\",\"seq\":0,\"x\":\""u8, 0xC3, 0x28, .. "\",\"readings\":[{\"ts\":1795428000000,\"m\":{\"steps\":1}}]}"u8];

        Assert.Equal(RejectReason.MalformedJson, _decoder.Decode(payload, Now, _decoded));
        Assert.Contains("UTF-8", _decoded.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"boot":"b1","seq":0,"v":1,"v":1,"readings":[{"ts":1795428000000,"m":{"steps":1}}]}""", "v appears twice", true)]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":1}}],"readings":[]}""", "readings appears twice", true)]
    [InlineData("""{"v":1,"boot":"b1","seq":0,"seq":1,"readings":[{"ts":1795428000000,"m":{"steps":1}}]}""", "seq appears twice", false)]
    [InlineData("""{"v":1,"boot":"b1","boot":"b2","seq":0,"readings":[{"ts":1795428000000,"m":{"steps":1}}]}""", "boot appears twice", false)]
    public void Decode_RejectsARepeatedField_AndKeepsNoKeyWhenBootOrSeqRepeats(string json, string detail, bool keyKept)
    {
        Assert.Equal(RejectReason.InvalidField, Decode(json));
        Assert.Equal(detail, _decoded.Detail);
        Assert.Equal(keyKept, _decoded.Boot is not null && _decoded.Seq is not null);
    }

    [Theory]
    [InlineData("""{"ts":1795428000000,"ts":1795428001000,"m":{"steps":1}}""", "ts appears twice")]
    [InlineData("""{"ts":1795428000000,"m":{"steps":1},"m":{"steps":2}}""", "m appears twice")]
    public void Decode_RejectsAReadingWithARepeatedField_AndKeepsTheOthers(string reading, string detail)
    {
        var reason = Decode($$$"""{"v":1,"boot":"b1","seq":0,"readings":[{{{reading}}},{"ts":1795428002000,"m":{"steps":3}}]}""");

        Assert.Equal(RejectReason.None, reason);
        Assert.Equal((RejectReason.InvalidField, detail), (_decoded.Readings[0].Reason, _decoded.Readings[0].Detail));
        Assert.Equal(RejectReason.None, _decoded.Readings[1].Reason);
    }

    [Fact]
    public void Decode_SkipsATimestampThatIsAnObject_WithoutReadingItsMembersAsTheReadings()
    {
        var reason = Decode("""{"v":1,"boot":"b1","seq":0,"readings":[{"ts":{"ts":1795428000000,"m":{"steps":9}},"m":{"steps":1}},{"ts":1795428002000,"m":{"steps":3}}]}""");

        Assert.Equal(RejectReason.None, reason);
        Assert.Equal(2, _decoded.ReadingCount);
        Assert.Equal(RejectReason.InvalidField, _decoded.Readings[0].Reason);
        Assert.Equal((RejectReason.None, 1795428002000L), (_decoded.Readings[1].Reason, _decoded.Readings[1].TimestampMs));
    }

    [Fact]
    public void Decode_AllocatesNothingPerReading()
    {
        var one = Vectors.Read("valid/telemetry-shoe-run.json");
        var twenty = Vectors.Read("valid/telemetry-shoe-20.json");
        _decoder.Decode(one, Vectors.NowMs, _decoded);
        _decoder.Decode(twenty, Vectors.NowMs, _decoded);

        var before = GC.GetAllocatedBytesForCurrentThread();
        _decoder.Decode(one, Vectors.NowMs, _decoded);
        var forOne = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        _decoder.Decode(twenty, Vectors.NowMs, _decoded);
        var forTwenty = GC.GetAllocatedBytesForCurrentThread() - before;

        // The only allocation is the message's boot id string, whatever the number of readings.
        Assert.Equal(20, _decoded.ReadingCount);
        Assert.Equal(forOne, forTwenty);
        Assert.True(forTwenty <= 64, $"decoding allocated {forTwenty} bytes");
    }

    /// <summary>
    /// The short-number path returns exactly what the general parser returns, or leaves the number to it: seeded
    /// decimals of 1 to 18 digits, both signs, with and without a fraction, exponents, and the edges of 15 digits.
    /// </summary>
    [Fact]
    public void ShortNumbers_ParseToTheSameDoubleAsTheGeneralParser()
    {
        var random = new Random(3);
        var numbers = new List<string> { "0", "-0", "0.0", "-0.0", "123456789012345", "1234567890123456", "0.000000000000001", "9.99999999999999", "1e3", "1.5E-2", "-12.250" };
        for (var i = 0; i < 200_000; i++)
        {
            var whole = random.NextInt64(0, (long)Math.Pow(10, random.Next(1, 13))).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var fraction = random.Next(0, 4) == 0 ? "" : "." + random.NextInt64(0, (long)Math.Pow(10, random.Next(1, 9))).ToString(System.Globalization.CultureInfo.InvariantCulture);
            numbers.Add((random.Next(2) == 0 ? "-" : "") + whole + fraction);
        }

        var fast = 0;
        foreach (var number in numbers)
        {
            var expected = double.Parse(number, System.Globalization.CultureInfo.InvariantCulture);
            if (TelemetryDecoder.TryParseShortNumber(Encoding.ASCII.GetBytes(number), out var value))
            {
                fast++;
                Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(value));
            }
            else
            {
                Assert.True(number.Contains('e', StringComparison.OrdinalIgnoreCase) || number.Count(char.IsAsciiDigit) > 15, number);
            }
        }

        Assert.True(fast > numbers.Count / 2, $"{fast} of {numbers.Count}");
    }

    [Fact]
    public void CatalogueNames_PassTheNameChecksTheyNoLongerGo()
    {
        foreach (var definition in MetricCatalogue.All)
        {
            Assert.True(UplinkIds.IsMetricName(definition.Utf8Name), definition.Name);
            Assert.False(Telemetry.Ingest.Storage.ReadingSchema.IsReserved(definition.Utf8Name), definition.Name);
        }
    }

    [Theory]
    [InlineData("""{"v":1,"boot":"b1","seq":1,"readings":[{"ts":1795428000000,"m":{"steps":10,"impact_g":9.5,"steps":11}}]}""")]
    [InlineData("""{"v":1,"boot":"b1","seq":1,"readings":[{"ts":1795428000000,"m":{"steps":10,"impact_g":9.5,"\u0073teps":11}}]}""")]
    public void Decode_RejectsACatalogueMetricTwiceInOneReading(string json)
    {
        var reason = Decode(json);

        Assert.Equal(RejectReason.InvalidField, _decoded.Readings[0].Reason);
        Assert.Contains("steps appears twice", _decoded.Readings[0].Detail, StringComparison.Ordinal);
        Assert.NotEqual(RejectReason.MalformedJson, reason);
    }
}
