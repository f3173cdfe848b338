using System.Formats.Cbor;
using System.Text;
using Telemetry.Fuzz;
using Telemetry.Ingest.Uplink;
using Telemetry.Tests.Vectors;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// The CBOR form of uplink v1 telemetry (docs/uplink.md, "Telemetry in CBOR"): what it accepts, that it gets the
/// JSON decoder's reasons, and that hostile bytes (cut short, lengths beyond the payload, indefinite lengths, deep
/// nesting, tags, wrong types, repeated keys, oversized) get a reason and a detail and never an exception.
/// Well-formed messages are written with System.Formats.Cbor's CborWriter; broken ones as hex.
/// </summary>
public sealed class CborTelemetryDecoderTests
{
    private const long Ts = 1_795_428_000_000;
    private readonly CborTelemetryDecoder _decoder = new(new UplinkOptions());
    private readonly DecodedTelemetry _decoded = new();

    private RejectReason Decode(byte[] payload) => _decoder.Decode(payload, Vectors.NowMs, _decoded);

    [Fact]
    public void Decode_ReadsTheWorkedExampleOfTheDocs()
    {
        // docs/uplink.md, "Telemetry in CBOR": tests/vectors/valid/telemetry-shoe-run.cbor, byte for byte.
        var example = Hex("""
            A4 00 01 01 66 62 37 66 33 61 32 02 00 03 81
            A2 00 1B 00 00 01 A2 07 D9 21 00 01 A8
            00 FB 40 B3 94 4C CC CC CC CD 01 19 05 E6 02 19 10 D6 03 FB 40 23 99 99 99 99 99 9A
            04 18 F8 05 18 AB 07 FB 40 38 19 99 99 99 99 9A 08 18 51
            """);

        Assert.Equal(Convert.ToHexString(Vectors.Read("valid/telemetry-shoe-run.cbor")), Convert.ToHexString(example));
        Assert.Equal(RejectReason.None, Decode(example));
        Assert.Equal((1, "b7f3a2", 0u, 1, Ts), (_decoded.Version, _decoded.Boot, _decoded.Seq!.Value, _decoded.ReadingCount, _decoded.Readings[0].TimestampMs));
        Assert.Equal(
            ["distance_m=5012.3", "duration_s=1510", "steps=4310", "impact_g=9.8", "contact_ms=248", "cadence_spm=171", "midsole_temp_c=24.1", "battery_pct=81"],
            _decoded.Metrics.Take(_decoded.MetricCount).Select(m => FormattableString.Invariant($"{m.Name}={m.Value}")));
    }

    [Fact]
    public void CatalogueIndexes_AreTheMetricKeysOfTheDocs_AndEveryNamePassesTheNameRules()
    {
        // The index of a metric in MetricCatalogue.All is its CBOR key on the wire (docs/uplink.md): the catalogue may
        // only grow at the end. Index keys skip the name checks, so every catalogue name must pass them.
        Assert.Equal(
            ["distance_m", "duration_s", "steps", "impact_g", "contact_ms", "cadence_spm", "pronation_deg", "midsole_temp_c",
             "battery_pct", "battery_mv", "capacity_mah", "charge_cycles", "temp_c", "humidity_pct", "hr_snr_db", "fault_code"],
            MetricCatalogue.All.Select(d => d.Name));
        Assert.All(MetricCatalogue.All, d => Assert.True(UplinkIds.IsMetricName(d.Utf8Name) && !Telemetry.Ingest.Storage.ReadingSchema.IsReserved(d.Utf8Name), d.Name));
    }

    [Fact]
    public void Decode_AcceptsTheJsonFieldNamesAsTextKeys_AndDecodesWhatJsonDecodes()
    {
        const string json = """{"v":1,"boot":"b1","seq":7,"readings":[{"ts":1795428000000,"m":{"steps":10,"impact_g":9.5,"heel_wear_mm":0.25}}]}""";
        var payload = Cbor(w =>
        {
            w.WriteStartMap(4);
            w.WriteTextString("v");
            w.WriteInt32(1);
            w.WriteTextString("boot");
            w.WriteTextString("b1");
            w.WriteTextString("seq");
            w.WriteInt32(7);
            w.WriteTextString("readings");
            w.WriteStartArray(1);
            w.WriteStartMap(2);
            w.WriteTextString("ts");
            w.WriteInt64(Ts);
            w.WriteTextString("m");
            w.WriteStartMap(3);
            w.WriteTextString("steps");
            w.WriteInt32(10);
            w.WriteTextString("impact_g");
            w.WriteDouble(9.5);
            w.WriteTextString("heel_wear_mm");
            w.WriteDouble(0.25);
            w.WriteEndMap();
            w.WriteEndMap();
            w.WriteEndArray();
            w.WriteEndMap();
        });
        var fromJson = new DecodedTelemetry();
        new TelemetryDecoder(new UplinkOptions()).Decode(Encoding.UTF8.GetBytes(json), Vectors.NowMs, fromJson);

        Assert.Equal(RejectReason.None, Decode(payload));
        DecodedAssert.Same(fromJson, _decoded);
        Assert.True(_decoded.HasCustomMetrics);
    }

    [Fact]
    public void Decode_AcceptsIntegersAndHalfSingleAndDoubleFloats()
    {
        var payload = Message(w => Reading(w, 5, m =>
        {
            m.WriteUInt32(Index("impact_g"));
            m.WriteHalf((Half)9.5);
            m.WriteUInt32(Index("midsole_temp_c"));
            m.WriteSingle(24.25f);
            m.WriteUInt32(Index("distance_m"));
            m.WriteDouble(5012.3);
            m.WriteUInt32(Index("steps"));
            m.WriteUInt64(4310);
            m.WriteUInt32(Index("pronation_deg"));
            m.WriteInt32(-3);
        }));

        Assert.Equal(RejectReason.None, Decode(payload));
        Assert.Equal([9.5, 24.25, 5012.3, 4310, -3], _decoded.Metrics.Take(_decoded.MetricCount).Select(m => m.Value));
    }

    [Fact]
    public void Decode_AcceptsIndefiniteLengthArraysAndMaps_AsTheirDefiniteForms()
    {
        var definite = Vectors.Read("valid/telemetry-shoe-20.cbor");
        var indefinite = Reencode(definite, indefinite: true);
        var expected = new DecodedTelemetry();
        _decoder.Decode(definite, Vectors.NowMs, expected);

        Assert.NotEqual(definite.Length, indefinite.Length);
        Assert.Equal(RejectReason.None, Decode(indefinite));
        DecodedAssert.Same(expected, _decoded);
    }

    [Fact]
    public void Decode_SkipsTheSelfDescribedCborTag()
    {
        byte[] payload = [0xD9, 0xD9, 0xF7, .. Vectors.Read("valid/telemetry-shoe-run.cbor")];

        Assert.Equal(RejectReason.None, Decode(payload));
        Assert.Equal(1, _decoded.ReadingCount);
    }

    [Fact]
    public void Decode_SkipsUnknownFieldsWhateverTheirKeyOrValue()
    {
        // {9: [1, {"x": h'00'}], "note": "hi", -1: 1(0), h'6B': null, 3: [{0: ts, 7: "x", 1: {2: 1}, "extra": [[]]}], 0: 1, 1: "b1", 2: 0}
        var payload = Hex("""
            A8 09 82 01 A1 61 78 41 00 64 6E 6F 74 65 62 68 69 20 C1 00 41 6B F6
            03 81 A4 00 1B 00 00 01 A2 07 D9 21 00 07 61 78 01 A1 02 01 65 65 78 74 72 61 81 80
            00 01 01 62 62 31 02 00
            """);

        Assert.Equal(RejectReason.None, Decode(payload));
        Assert.Equal(("b1", 1, 0), (_decoded.Boot, _decoded.ReadingCount, _decoded.RejectedReadings));
        Assert.Equal(("steps", 1.0), (_decoded.Metrics[0].Name, _decoded.Metrics[0].Value));
    }

    [Theory]
    [InlineData("A5 00 01 01 62 62 31 02 00 63 73 65 71 01 03 81 A2 00 1B 00 00 01 A2 07 D9 21 00 01 A1 02 01", "seq appears twice", false)]
    [InlineData("A5 00 01 01 62 62 31 64 62 6F 6F 74 62 62 32 02 00 03 81 A2 00 1B 00 00 01 A2 07 D9 21 00 01 A1 02 01", "boot appears twice", false)]
    [InlineData("A5 01 62 62 31 02 00 61 76 01 00 01 03 81 A2 00 1B 00 00 01 A2 07 D9 21 00 01 A1 02 01", "v appears twice", true)]
    public void Decode_RejectsAFieldGivenByNumberAndByName_AndKeepsNoKeyWhenBootOrSeqRepeats(string hex, string detail, bool keyKept)
    {
        Assert.Equal(RejectReason.InvalidField, Decode(Hex(hex)));
        Assert.Equal(detail, _decoded.Detail);
        Assert.Equal(keyKept, _decoded.Boot is not null && _decoded.Seq is not null);
    }

    [Theory]
    [InlineData("A3 00 1B 00 00 01 A2 07 D9 21 00 62 74 73 1B 00 00 01 A2 07 D9 21 00 01 A1 02 01", "ts appears twice")]
    [InlineData("A3 00 1B 00 00 01 A2 07 D9 21 00 01 A1 02 01 61 6D A1 02 02", "m appears twice")]
    [InlineData("A2 00 1B 00 00 01 A2 07 D9 21 00 01 A2 02 01 65 73 74 65 70 73 02", "steps appears twice")]
    public void Decode_RejectsAReadingWithARepeatedField_AndKeepsTheOthers(string readingHex, string detail)
    {
        var payload = Hex("A4 00 01 01 62 62 31 02 00 03 82 " + readingHex + " A2 00 1B 00 00 01 A2 07 D9 21 00 01 A1 02 03");

        Assert.Equal(RejectReason.None, Decode(payload));
        Assert.Equal((RejectReason.InvalidField, detail), (_decoded.Readings[0].Reason, _decoded.Readings[0].Detail));
        Assert.Equal((RejectReason.None, 3.0), (_decoded.Readings[1].Reason, _decoded.Metrics[0].Value));
    }

    [Theory]
    [InlineData("10", "invalid_metric_name", "metric key 16 is not a catalogue index")] // the catalogue has 0..15
    [InlineData("20", "invalid_metric_name", "a negative integer")]
    [InlineData("41 02", "invalid_metric_name", "a byte string")]
    [InlineData("7F 62 73 74 63 65 70 73 FF", "invalid_metric_name", "definite-length text name, not a string in chunks")] // "steps"
    [InlineData("63 73 65 71", "invalid_metric_name", "reserved")] // "seq"
    [InlineData("68 49 6D 70 61 63 74 2D 47", "invalid_metric_name", "does not match")] // "Impact-G"
    public void Decode_RejectsAReadingWithAMetricKeyThatIsNeitherACatalogueIndexNorAName(string keyHex, string reason, string detail)
    {
        var payload = Hex("A4 00 01 01 62 62 31 02 00 03 82 A2 00 1B 00 00 01 A2 07 D9 21 00 01 A1 " + keyHex + " 01"
            + " A2 00 1B 00 00 01 A2 07 D9 21 00 01 A1 02 03");

        Assert.Equal(RejectReason.None, Decode(payload));
        Assert.Equal(reason, _decoded.Readings[0].Reason.WireName());
        Assert.Contains(detail, _decoded.Readings[0].Detail, StringComparison.Ordinal);
        Assert.Equal(RejectReason.None, _decoded.Readings[1].Reason);
    }

    [Theory]
    [InlineData("01 02", "boot")] // boot is an integer
    [InlineData("01 7F 62 62 31 FF", "boot")] // boot in chunks
    [InlineData("02 20", "seq")] // seq = -1
    [InlineData("02 1B 00 00 00 01 00 00 00 00", "seq")] // seq = 2^32
    [InlineData("02 F9 3C 00", "seq")] // seq = 1.0
    [InlineData("00 F9 3C 00", "v")] // v = 1.0
    [InlineData("00 1B 00 00 00 01 00 00 00 00", "v")] // v beyond int
    [InlineData("03 A0", "readings")] // readings is a map
    public void Decode_RejectsAMessageFieldOfTheWrongType(string fieldHex, string field)
    {
        var payload = Hex("A2 " + fieldHex + " 03 81 A2 00 1B 00 00 01 A2 07 D9 21 00 01 A1 02 01");

        Assert.Equal(RejectReason.InvalidField, Decode(payload));
        Assert.StartsWith(field, _decoded.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("82 00 01", "a reading must be a map")]
    [InlineData("A2 00 FB 42 7A 20 7D 92 10 00 00 01 A1 02 01", "ts must be an integer")] // ts as a double
    [InlineData("A2 00 1B 80 00 00 00 00 00 00 00 01 A1 02 01", "ts must be an integer")] // ts = 2^63
    [InlineData("A2 00 C1 1A 6B 04 0E A0 01 A1 02 01", "ts must be an integer")] // ts with tag 1 (epoch seconds)
    [InlineData("A2 00 1B 00 00 01 A2 07 D9 21 00 01 82 02 01", "m must be a map")]
    [InlineData("A2 00 1B 00 00 01 A2 07 D9 21 00 01 A0", "m must hold 1-32 metrics")]
    [InlineData("A1 01 A1 02 01", "ts is required")]
    public void Decode_RejectsAReadingOfTheWrongShape_AndKeepsTheOthers(string readingHex, string detail)
    {
        var payload = Hex("A4 00 01 01 62 62 31 02 00 03 82 " + readingHex + " A2 00 1B 00 00 01 A2 07 D9 21 00 01 A1 02 03");

        Assert.Equal(RejectReason.None, Decode(payload));
        Assert.StartsWith(detail, _decoded.Readings[0].Detail, StringComparison.Ordinal);
        Assert.Equal((1, RejectReason.None), (_decoded.RejectedReadings, _decoded.Readings[1].Reason));
    }

    [Theory]
    [InlineData("62 34 32", "a string")]
    [InlineData("F5", "a boolean")]
    [InlineData("F6", "null")]
    [InlineData("F7", "undefined")]
    [InlineData("42 00 01", "a byte string")]
    [InlineData("81 01", "an array")]
    [InlineData("A1 01 01", "a map")]
    [InlineData("C2 41 01", "a tagged item (tag 2)")] // a bignum: numbers are plain integers and floats here
    public void Decode_RejectsAMetricValueThatIsNotANumber(string valueHex, string what)
    {
        var payload = Hex("A4 00 01 01 62 62 31 02 00 03 81 A2 00 1B 00 00 01 A2 07 D9 21 00 01 A1 02 " + valueHex);

        Assert.Equal(RejectReason.None, Decode(payload));
        Assert.Equal((RejectReason.NotANumber, $"steps is {what}, not a number"), (_decoded.Readings[0].Reason, _decoded.Readings[0].Detail));
    }

    [Theory]
    [InlineData("F9 7E 00")] // half NaN
    [InlineData("FA 7F 80 00 00")] // single +infinity
    [InlineData("FB FF F0 00 00 00 00 00 00")] // double -infinity
    [InlineData("F9 53 20")] // 57.0: inside a half, outside impact_g's 0..40
    public void Decode_RejectsANonFiniteOrOutOfRangeFloat(string valueHex)
    {
        var payload = Hex("A4 00 01 01 62 62 31 02 00 03 81 A2 00 1B 00 00 01 A2 07 D9 21 00 01 A1 03 " + valueHex);

        Assert.Equal(RejectReason.None, Decode(payload));
        Assert.Equal(RejectReason.ValueOutOfRange, _decoded.Readings[0].Reason);
    }

    [Fact]
    public void Decode_RejectsAFractionalIntegerMetric_AsJsonDoes()
    {
        var payload = Message(w => Reading(w, 1, m =>
        {
            m.WriteUInt32(Index("steps"));
            m.WriteHalf((Half)10.5);
        }));

        Assert.Equal(RejectReason.None, Decode(payload));
        Assert.Equal((RejectReason.InvalidField, "steps=10.5 must be an integer"), (_decoded.Readings[0].Reason, _decoded.Readings[0].Detail));
    }

    [Fact]
    public void Decode_EveryPayloadCutShort_IsMalformed_AndNeverThrows()
    {
        var whole = Vectors.Read("valid/telemetry-shoe-20.cbor");

        for (var length = 0; length < whole.Length; length++)
        {
            var reason = Decode(whole[..length]);

            Assert.True(reason == RejectReason.MalformedJson, $"cut at {length}: {reason} {_decoded.Detail}");
            Assert.False(string.IsNullOrEmpty(_decoded.Detail));
        }
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("FF", "a break where an item was expected")]
    [InlineData("1C", "reserved additional information 28")]
    [InlineData("83 01 02 03", "payload must be a CBOR map")]
    [InlineData("C1 A0", "payload must be a CBOR map")]
    [InlineData("A1 00 FF", "a break where an item was expected")]
    [InlineData("A1 1F 00", "an integer or tag of indefinite length")]
    [InlineData("A1 61 78 7B FF FF FF FF FF FF FF FF", "declares 18446744073709551615 bytes")]
    [InlineData("A1 61 78 9B 00 00 00 01 00 00 00 00 00", "declares 4294967296 entries")]
    [InlineData("A1 61 78 BB 7F FF FF FF FF FF FF FF 00", "declares 9223372036854775807 entries")]
    [InlineData("A1 61 78 9F 01 02", "ends inside an indefinite-length item")]
    [InlineData("A1 61 78 7F 41 00 FF", "a chunk of an indefinite-length string")]
    [InlineData("A1 61 78 F8 10", "two-byte simple value below 32")]
    [InlineData("A1 61 78 62 C3 28", "not valid UTF-8")]
    [InlineData("A1 61 78 81 81 81 81 81 81 81 81 00", "nested deeper than 8 levels")]
    [InlineData("A1 61 78 C6 C6 C6 C6 C6 C6 C6 C6 00", "nested deeper than 8 levels")]
    [InlineData("A0 00", "unexpected content after the map")]
    public void Decode_RejectsBytesThatAreNotWellFormedCbor_AsMalformed(string hex, string detail)
    {
        Assert.Equal(RejectReason.MalformedJson, Decode(Hex(hex)));
        Assert.Contains(detail, _decoded.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x81)] // [[[[…]]]]: arrays
    [InlineData(0xA1)] // {{{…: maps
    [InlineData(0xC6)] // 6(6(6(…))): tags
    [InlineData(0x9F)] // indefinite-length arrays, never closed
    public void Decode_NestingThatFillsThePayload_IsMalformedWithoutExhaustingTheStack(byte opener)
    {
        byte[] payload = [.. Hex("A1 61 78"), .. Enumerable.Repeat(opener, TelemetryDecoder.MaxPayloadBytes - 3)];

        Assert.Equal(RejectReason.MalformedJson, Decode(payload));
        Assert.Contains("nested deeper than 8", _decoded.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_AnIndefiniteLengthStringOfEmptyChunksFillingThePayload_IsSkippedInLinearTime()
    {
        var chunks = TelemetryDecoder.MaxPayloadBytes - 200;
        byte[] payload =
        [
            .. Hex("A5 64 6E 6F 74 65 7F"), .. Enumerable.Repeat((byte)0x60, chunks), 0xFF,
            .. Vectors.Read("valid/telemetry-shoe-run.cbor").AsSpan(1),
        ];

        Assert.Equal(RejectReason.None, Decode(payload));
        Assert.Equal(1, _decoded.ReadingCount);
    }

    [Fact]
    public void Decode_MoreThan500Readings_IsTooManyReadings_DefiniteOrIndefinite()
    {
        var definite = Vectors.Read("invalid/too-many-readings.cbor");

        Assert.Equal(RejectReason.TooManyReadings, Decode(definite));
        Assert.Equal(RejectReason.TooManyReadings, Decode(Reencode(definite, indefinite: true)));
    }

    [Fact]
    public void Decode_APayloadOver64KiB_IsTooLarge_BeforeItIsRead()
    {
        var payload = new byte[TelemetryDecoder.MaxPayloadBytes + 1];

        Assert.Equal(RejectReason.PayloadTooLarge, Decode(payload));
    }

    [Fact]
    public void Decode_KeepsBootAndSeqReadBeforeAFault_SoTheRejectionIsAcknowledged()
    {
        // As in JSON: a message that is broken after its key counts as handled.
        var whole = Vectors.Read("valid/telemetry-shoe-run.cbor");

        Assert.Equal(RejectReason.MalformedJson, Decode(whole[..^1]));
        Assert.Equal(("b7f3a2", 0u), (_decoded.Boot, _decoded.Seq!.Value));
    }

    [Fact]
    public void Decode_AllocatesNothingPerReading()
    {
        var one = Vectors.Read("valid/telemetry-shoe-run.cbor");
        var twenty = Vectors.Read("valid/telemetry-shoe-20.cbor");
        Decode(one);
        Decode(twenty);

        var before = GC.GetAllocatedBytesForCurrentThread();
        Decode(one);
        var forOne = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        Decode(twenty);
        var forTwenty = GC.GetAllocatedBytesForCurrentThread() - before;

        // The only allocation is the message's boot id string, whatever the number of readings.
        Assert.Equal(20, _decoded.ReadingCount);
        Assert.Equal(forOne, forTwenty);
        Assert.True(forTwenty <= 64, $"decoding allocated {forTwenty} bytes");
    }

    [Fact]
    public void Decode_ObeysTheDecoderContract_AndAcceptsOnlyWhatAnIndependentReaderFindsWellFormed()
    {
        // Seeded mutations of every CBOR vector: flipped, inserted, deleted and overwritten bytes. Whatever the decoder
        // makes of them must obey the fuzz harness's contract, and whatever it accepts must be one well-formed CBOR
        // item by System.Formats.Cbor's reader, which shares no code with ours.
        var random = new Random(12);
        var seeds = Directory.EnumerateFiles(Vectors.Root, "*.cbor", SearchOption.AllDirectories)
            .Where(f => new FileInfo(f).Length < 16 * 1024).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
        var accepted = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var payload = Mutate(seeds[random.Next(seeds.Length)], random);

            DecoderContract.CheckCborTelemetry(payload, _decoder, _decoded);

            if (_decoded.Reason == RejectReason.None)
            {
                accepted++;
                var reader = new CborReader(payload, CborConformanceMode.Lax);
                reader.SkipValue();
                Assert.Equal(0, reader.BytesRemaining);
            }
        }

        // The mutations must not all break the message, or the check above would check nothing.
        Assert.InRange(accepted, 1_000, 19_000);
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = seed.ToList();
        for (var n = random.Next(1, 4); n > 0 && bytes.Count > 0; n--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(4))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes.Insert(at, (byte)random.Next(256));
                    break;
                case 2:
                    bytes.RemoveAt(at);
                    break;
                default:
                    bytes[at] = (byte)random.Next(256);
                    break;
            }
        }

        return [.. bytes];
    }

    private static uint Index(string metric) => (uint)Array.FindIndex(MetricCatalogue.All, d => d.Name == metric);

    private static byte[] Hex(string hex) => Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));

    private static byte[] Cbor(Action<CborWriter> write)
    {
        var writer = new CborWriter(CborConformanceMode.Lax);
        write(writer);
        return writer.Encode();
    }

    /// <summary>{0: 1, 1: "b1", 2: 0, 3: [one reading]}.</summary>
    private static byte[] Message(Action<CborWriter> reading) => Cbor(w =>
    {
        w.WriteStartMap(4);
        w.WriteUInt32(0);
        w.WriteUInt32(1);
        w.WriteUInt32(1);
        w.WriteTextString("b1");
        w.WriteUInt32(2);
        w.WriteUInt32(0);
        w.WriteUInt32(3);
        w.WriteStartArray(1);
        reading(w);
        w.WriteEndArray();
        w.WriteEndMap();
    });

    /// <summary>{0: ts, 1: {metrics}}.</summary>
    private static void Reading(CborWriter w, int metrics, Action<CborWriter> write)
    {
        w.WriteStartMap(2);
        w.WriteUInt32(0);
        w.WriteInt64(Ts);
        w.WriteUInt32(1);
        w.WriteStartMap(metrics);
        write(w);
        w.WriteEndMap();
        w.WriteEndMap();
    }

    /// <summary>The same items, every array and map written with indefinite length (or definite again).</summary>
    private static byte[] Reencode(byte[] payload, bool indefinite)
    {
        var reader = new CborReader(payload, CborConformanceMode.Lax);
        var writer = new CborWriter(CborConformanceMode.Lax);
        Copy(reader, writer, indefinite);
        return writer.Encode();
    }

    private static void Copy(CborReader reader, CborWriter writer, bool indefinite)
    {
        switch (reader.PeekState())
        {
            case CborReaderState.StartArray:
                var items = reader.ReadStartArray();
                writer.WriteStartArray(indefinite ? null : items);
                while (reader.PeekState() != CborReaderState.EndArray)
                {
                    Copy(reader, writer, indefinite);
                }

                reader.ReadEndArray();
                writer.WriteEndArray();
                break;
            case CborReaderState.StartMap:
                var pairs = reader.ReadStartMap();
                writer.WriteStartMap(indefinite ? null : pairs);
                while (reader.PeekState() != CborReaderState.EndMap)
                {
                    Copy(reader, writer, indefinite);
                    Copy(reader, writer, indefinite);
                }

                reader.ReadEndMap();
                writer.WriteEndMap();
                break;
            default:
                writer.WriteEncodedValue(reader.ReadEncodedValue().Span);
                break;
        }
    }
}
