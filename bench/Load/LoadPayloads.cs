using System.Buffers;
using System.Formats.Cbor;
using System.Text.Json;

namespace Telemetry.Bench.Load;

/// <summary>
/// Deterministic uplink payloads (docs/uplink.md): the same (device, boot, seq) always gives the same bytes, so
/// a resend, or a rerun with the same <c>--boot</c> and <c>--base-ms</c>, is a true duplicate the service must
/// recognise. Every reading of a device has its own timestamp, so each is its own point in the store. A faulty
/// device (<c>--faulty</c>) steps its impact and ground contact up by 8 g and 80 ms from <c>--fault-at-seq</c> on,
/// far outside its own baseline (its first 20 readings): a delamination alert within that message. Healthy
/// devices' impact and contact repeat in short cycles (7 and 9 readings) that every baseline covers, so that they
/// never look like a fault.
/// </summary>
internal static class LoadPayloads
{
    public static byte[] Birth() =>
        """{"v":1,"kind":"shoe","model":"loadrun-1","batch":"2026w48-load","firmware":"load-1","manufactured":"2026-01-05"}"""u8.ToArray();

    /// <summary>The MQTT 5 content type of <see cref="Telemetry"/>'s payloads: null for JSON, the uplink's default.</summary>
    public static string? ContentType(LoadOptions options) => options.Cbor ? "application/cbor" : null;

    public static byte[] Telemetry(LoadOptions options, int device, uint seq) =>
        options.Cbor ? TelemetryCbor(options, device, seq) : TelemetryJson(options, device, seq);

    private static byte[] TelemetryJson(LoadOptions options, int device, uint seq)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + (options.Readings * 160));
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", 1);
            w.WriteString("boot", options.Boot);
            w.WriteNumber("seq", seq);
            w.WriteStartArray("readings");
            for (var r = 0; r < options.Readings; r++)
            {
                var n = ((long)seq * options.Readings) + r;
                // Values vary with the device and the reading but stay inside the catalogue's ranges.
                var k = (int)((n + device) % 1000);
                w.WriteStartObject();
                w.WriteNumber("ts", options.BaseMs + (n * options.StepMs));
                w.WriteStartObject("m");
                w.WriteNumber("distance_m", 1000 + k);
                w.WriteNumber("duration_s", 300 + (k % 60));
                w.WriteNumber("steps", 900 + k);
                var fault = options.IsFaulty(device, seq) ? 1 : 0;
                w.WriteNumber("impact_g", 8 + (k % 7 / 10.0) + (fault * 8));
                w.WriteNumber("contact_ms", 230 + (k % 9) + (fault * 80));
                w.WriteNumber("cadence_spm", 160 + (k % 20));
                w.WriteNumber("midsole_temp_c", 20 + (k % 10));
                w.WriteNumber("battery_pct", 100 - (k % 100));
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The same readings as <see cref="TelemetryJson"/> in the compact CBOR form: integer keys, metrics by
    /// catalogue index (distance_m 0 … battery_pct 8), whole numbers as integers, impact_g as a double.</summary>
    private static byte[] TelemetryCbor(LoadOptions options, int device, uint seq)
    {
        var w = new CborWriter(CborConformanceMode.Lax);
        w.WriteStartMap(4);
        w.WriteInt32(0);
        w.WriteInt32(1);
        w.WriteInt32(1);
        w.WriteTextString(options.Boot);
        w.WriteInt32(2);
        w.WriteUInt32(seq);
        w.WriteInt32(3);
        w.WriteStartArray(options.Readings);
        for (var r = 0; r < options.Readings; r++)
        {
            var n = ((long)seq * options.Readings) + r;
            var k = (int)((n + device) % 1000);
            w.WriteStartMap(2);
            w.WriteInt32(0);
            w.WriteInt64(options.BaseMs + (n * options.StepMs));
            w.WriteInt32(1);
            w.WriteStartMap(8);
            w.WriteInt32(0); // distance_m
            w.WriteInt32(1000 + k);
            w.WriteInt32(1); // duration_s
            w.WriteInt32(300 + (k % 60));
            w.WriteInt32(2); // steps
            w.WriteInt32(900 + k);
            var fault = options.IsFaulty(device, seq) ? 1 : 0;
            w.WriteInt32(3); // impact_g
            w.WriteDouble(8 + (k % 7 / 10.0) + (fault * 8));
            w.WriteInt32(4); // contact_ms
            w.WriteInt32(230 + (k % 9) + (fault * 80));
            w.WriteInt32(5); // cadence_spm
            w.WriteInt32(160 + (k % 20));
            w.WriteInt32(7); // midsole_temp_c
            w.WriteInt32(20 + (k % 10));
            w.WriteInt32(8); // battery_pct
            w.WriteInt32(100 - (k % 100));
            w.WriteEndMap();
            w.WriteEndMap();
        }

        w.WriteEndArray();
        w.WriteEndMap();
        return w.Encode();
    }
}
