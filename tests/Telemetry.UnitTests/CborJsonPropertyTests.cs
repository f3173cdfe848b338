using System.Buffers;
using System.Formats.Cbor;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Telemetry.Ingest.Uplink;
using Telemetry.Tests.Vectors;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// For any valid message, its JSON and its CBOR decode to the same readings, bit for bit: random boots and seqs,
/// 1-20 readings across the time window, any subset of the catalogue with values anywhere in range (integers,
/// tenths, quarters that fit a half float, arbitrary doubles), metrics outside the catalogue, and CBOR keys by
/// number or by name. FsCheck runs it from a fixed seed, so a failure is the same failure on every machine.
/// </summary>
public sealed class CborJsonPropertyTests
{
    private static readonly string[] CustomNames = ["heel_wear_mm", "lace_tension", "x1"];

    [Fact]
    public void AnyValidMessage_DecodesTheSameFromJsonAndFromCbor()
    {
        var json = new TelemetryDecoder(new UplinkOptions());
        var cbor = new CborTelemetryDecoder(new UplinkOptions());
        var fromJson = new DecodedTelemetry();
        var fromCbor = new DecodedTelemetry();
        var property = Prop.ForAll(Arb.From(Messages()), (Action<MessageSample>)(message =>
        {
            Assert.Equal(RejectReason.None, json.Decode(message.Json(), Vectors.NowMs, fromJson));
            Assert.Equal(RejectReason.None, cbor.Decode(message.Cbor(), Vectors.NowMs, fromCbor));
            Assert.Equal((message.Readings.Length, 0), (fromCbor.ReadingCount, fromCbor.RejectedReadings));
            DecodedAssert.Same(fromJson, fromCbor);
        }));

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300).WithReplay(20261126UL, 0x9E3779B97F4A7C15UL), property);
    }

    private static Gen<MessageSample> Messages() =>
        from boot in Gen.Elements("b1", "b7f3a2", "Boot_-9", new string('z', 32))
        from seq in Gen.Choose(0, int.MaxValue)
        from textKeys in Gen.Elements(false, true)
        from count in Gen.Choose(1, 20)
        from readings in Gen.ArrayOf(Readings(), count)
        select new MessageSample(boot, (uint)seq * 2, textKeys, readings);

    private static Gen<ReadingSample> Readings() =>
        from minutesBack in Gen.Choose(-4, (29 * 24 * 60) - 1)
        from ms in Gen.Choose(0, 59_999)
        from mask in Gen.Choose(1, (1 << MetricCatalogue.All.Length) - 1)
        from draws in Gen.ArrayOf(Gen.Choose(0, 1_000_000), MetricCatalogue.All.Length)
        from kinds in Gen.ArrayOf(Gen.Choose(0, 3), MetricCatalogue.All.Length)
        from byIndex in Gen.ArrayOf(Gen.Elements(false, true), MetricCatalogue.All.Length)
        from custom in Gen.Choose(0, CustomNames.Length)
        from customValues in Gen.ArrayOf(Gen.Choose(-1_000_000, 1_000_000), CustomNames.Length)
        select new ReadingSample(
            Vectors.NowMs - (minutesBack * 60_000L) - ms,
            [
                .. MetricCatalogue.All.Select((d, i) => (d, i)).Where(x => (mask & (1 << x.i)) != 0)
                    .Select(x => new MetricSample(x.d.Name, Value(x.d, draws[x.i], kinds[x.i]), byIndex[x.i] ? x.i : null)),
                .. CustomNames.Take(custom).Select((name, i) => new MetricSample(name, customValues[i] / 1000.0, null)),
            ]);

    /// <summary>A value in the metric's range, of one of four shapes that take different CBOR encodings.</summary>
    private static double Value(MetricDefinition metric, int draw, int kind)
    {
        var fraction = draw / 1_000_000.0;
        var value = metric.Min + ((metric.Max - metric.Min) * fraction);
        return metric.Type == MetricType.Integer ? Math.Floor(value) : kind switch
        {
            0 => Math.Floor(value), // a whole number: a CBOR integer
            1 => Math.Clamp(Math.Round(value, 1), metric.Min, metric.Max), // 24.1: a double
            2 => Math.Clamp(Math.Round(value * 4) / 4, metric.Min, metric.Max), // 9.75: fits a half float
            _ => value, // any double in range
        };
    }

    public sealed record MetricSample(string Name, double Value, int? Index);

    public sealed record ReadingSample(long TimestampMs, MetricSample[] Metrics);

    public sealed record MessageSample(string Boot, uint Seq, bool TextKeys, ReadingSample[] Readings)
    {
        public byte[] Json()
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteNumber("v", 1);
                w.WriteString("boot", Boot);
                w.WriteNumber("seq", Seq);
                w.WriteStartArray("readings");
                foreach (var reading in Readings)
                {
                    w.WriteStartObject();
                    w.WriteNumber("ts", reading.TimestampMs);
                    w.WriteStartObject("m");
                    foreach (var metric in reading.Metrics)
                    {
                        w.WriteNumber(metric.Name, metric.Value);
                    }

                    w.WriteEndObject();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            return buffer.WrittenSpan.ToArray();
        }

        public byte[] Cbor()
        {
            var w = new CborWriter(CborConformanceMode.Lax);
            w.WriteStartMap(4);
            Key(w, 0, "v");
            w.WriteInt32(1);
            Key(w, 1, "boot");
            w.WriteTextString(Boot);
            Key(w, 2, "seq");
            w.WriteUInt32(Seq);
            Key(w, 3, "readings");
            w.WriteStartArray(Readings.Length);
            foreach (var reading in Readings)
            {
                w.WriteStartMap(2);
                Key(w, 0, "ts");
                w.WriteInt64(reading.TimestampMs);
                Key(w, 1, "m");
                w.WriteStartMap(reading.Metrics.Length);
                foreach (var metric in reading.Metrics)
                {
                    if (metric.Index is { } index)
                    {
                        w.WriteInt32(index);
                    }
                    else
                    {
                        w.WriteTextString(metric.Name);
                    }

                    // -0.0 is a float: as the integer 0 it would come back as +0.0, which JSON's "-0" does not.
                    if (metric.Value == Math.Floor(metric.Value) && Math.Abs(metric.Value) < 1e15 && !(metric.Value == 0 && double.IsNegative(metric.Value)))
                    {
                        w.WriteInt64((long)metric.Value);
                    }
                    else
                    {
                        CborTwin.WriteShortestFloat(w, metric.Value);
                    }
                }

                w.WriteEndMap();
                w.WriteEndMap();
            }

            w.WriteEndArray();
            w.WriteEndMap();
            return w.Encode();
        }

        private void Key(CborWriter w, int number, string name)
        {
            if (TextKeys)
            {
                w.WriteTextString(name);
            }
            else
            {
                w.WriteInt32(number);
            }
        }
    }
}
