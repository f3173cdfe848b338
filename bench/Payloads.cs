using System.Buffers;
using System.Formats.Cbor;
using System.Text.Json;

namespace Telemetry.Bench;

/// <summary>Realistic uplink payloads: shoe runs with the full set of catalogue metrics.</summary>
internal static class Payloads
{
    public const int ReadingsPerMessage = 20;

    public static readonly long NowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public static byte[] ShoeMessage(uint seq, string boot = "b7f3a2")
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", 1);
            w.WriteString("boot", boot);
            w.WriteNumber("seq", seq);
            w.WriteStartArray("readings");
            for (var i = 0; i < ReadingsPerMessage; i++)
            {
                w.WriteStartObject();
                w.WriteNumber("ts", NowMs - ((ReadingsPerMessage - i) * 60_000L));
                w.WriteStartObject("m");
                w.WriteNumber("distance_m", 5012.3 + i);
                w.WriteNumber("duration_s", 1510);
                w.WriteNumber("steps", 4310 + i);
                w.WriteNumber("impact_g", 9.8);
                w.WriteNumber("contact_ms", 248);
                w.WriteNumber("cadence_spm", 171);
                w.WriteNumber("midsole_temp_c", 24.1);
                w.WriteNumber("battery_pct", 81);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// <see cref="ShoeMessage"/> in the compact CBOR form of docs/uplink.md: integer keys, metrics by catalogue index
    /// (distance_m 0 … battery_pct 8), whole numbers as integers and the others as doubles, since 5012.3, 9.8 and 24.1
    /// have no exact half or single.
    /// </summary>
    public static byte[] ShoeCborMessage(uint seq, string boot = "b7f3a2")
    {
        var w = new CborWriter(CborConformanceMode.Lax);
        w.WriteStartMap(4);
        w.WriteInt32(0);
        w.WriteInt32(1);
        w.WriteInt32(1);
        w.WriteTextString(boot);
        w.WriteInt32(2);
        w.WriteUInt32(seq);
        w.WriteInt32(3);
        w.WriteStartArray(ReadingsPerMessage);
        for (var i = 0; i < ReadingsPerMessage; i++)
        {
            w.WriteStartMap(2);
            w.WriteInt32(0);
            w.WriteInt64(NowMs - ((ReadingsPerMessage - i) * 60_000L));
            w.WriteInt32(1);
            w.WriteStartMap(8);
            w.WriteInt32(0); // distance_m
            w.WriteDouble(5012.3 + i);
            w.WriteInt32(1); // duration_s
            w.WriteInt32(1510);
            w.WriteInt32(2); // steps
            w.WriteInt32(4310 + i);
            w.WriteInt32(3); // impact_g
            w.WriteDouble(9.8);
            w.WriteInt32(4); // contact_ms
            w.WriteInt32(248);
            w.WriteInt32(5); // cadence_spm
            w.WriteInt32(171);
            w.WriteInt32(7); // midsole_temp_c
            w.WriteDouble(24.1);
            w.WriteInt32(8); // battery_pct
            w.WriteInt32(81);
            w.WriteEndMap();
            w.WriteEndMap();
        }

        w.WriteEndArray();
        w.WriteEndMap();
        return w.Encode();
    }
}
