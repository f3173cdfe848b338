using System.Buffers;
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
}
