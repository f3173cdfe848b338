using System.Buffers;
using System.Text.Json;

namespace Telemetry.Bench.Load;

/// <summary>
/// Deterministic uplink payloads (docs/uplink.md): the same (device, boot, seq) always gives the same bytes, so
/// a resend, or a rerun with the same <c>--boot</c> and <c>--base-ms</c>, is a true duplicate the service must
/// recognise. Every reading of a device has its own timestamp, so each is its own point in the store.
/// </summary>
internal static class LoadPayloads
{
    public static byte[] Birth() =>
        """{"v":1,"kind":"shoe","model":"loadrun-1","batch":"2026w48-load","firmware":"load-1","manufactured":"2026-01-05"}"""u8.ToArray();

    public static byte[] Telemetry(LoadOptions options, int device, uint seq)
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
                w.WriteNumber("impact_g", 8 + (k % 40 / 10.0));
                w.WriteNumber("contact_ms", 230 + (k % 40));
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
}
