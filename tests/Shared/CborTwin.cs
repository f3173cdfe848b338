using System.Formats.Cbor;
using System.Text.Json;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Tests.Vectors;

/// <summary>
/// The CBOR twin of a JSON telemetry message, in the compact form of docs/uplink.md: integer keys for the message
/// (0 v, 1 boot, 2 seq, 3 readings) and a reading (0 ts, 1 m), catalogue metrics by their index, anything else with
/// its JSON name as a text key, integers as CBOR integers and other numbers as the shortest float that gives the
/// same double back (half, single or double). Written with System.Formats.Cbor's <see cref="CborWriter"/>, not
/// with anything of the service, so a twin is an independent encoding. Repeated fields stay repeated.
/// </summary>
public static class CborTwin
{
    public static byte[] FromJson(ReadOnlySpan<byte> json)
    {
        using var document = JsonDocument.Parse(json.ToArray());
        // Lax: a repeated field must stay repeated. Definite lengths, as the vectors and the docs show them.
        var writer = new CborWriter(CborConformanceMode.Lax, convertIndefiniteLengthEncodings: true);
        WriteMessage(writer, document.RootElement);
        return writer.Encode();
    }

    /// <summary>The shortest CBOR float that decodes to exactly <paramref name="value"/>, as firmware should send it.</summary>
    public static void WriteShortestFloat(CborWriter writer, double value)
    {
        if (double.IsNaN(value) || (double)(Half)value == value)
        {
            writer.WriteHalf((Half)value);
        }
        else if ((double)(float)value == value)
        {
            writer.WriteSingle((float)value);
        }
        else
        {
            writer.WriteDouble(value);
        }
    }

    private static void WriteMessage(CborWriter writer, JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            WriteAny(writer, message);
            return;
        }

        writer.WriteStartMap(null);
        foreach (var field in message.EnumerateObject())
        {
            switch (field.Name)
            {
                case "v":
                    writer.WriteUInt32(0);
                    WriteAny(writer, field.Value);
                    break;
                case "boot":
                    writer.WriteUInt32(1);
                    WriteAny(writer, field.Value);
                    break;
                case "seq":
                    writer.WriteUInt32(2);
                    WriteAny(writer, field.Value);
                    break;
                case "readings" when field.Value.ValueKind == JsonValueKind.Array:
                    writer.WriteUInt32(3);
                    writer.WriteStartArray(field.Value.GetArrayLength());
                    foreach (var reading in field.Value.EnumerateArray())
                    {
                        WriteReading(writer, reading);
                    }

                    writer.WriteEndArray();
                    break;
                default:
                    writer.WriteTextString(field.Name);
                    WriteAny(writer, field.Value);
                    break;
            }
        }

        writer.WriteEndMap();
    }

    private static void WriteReading(CborWriter writer, JsonElement reading)
    {
        if (reading.ValueKind != JsonValueKind.Object)
        {
            WriteAny(writer, reading);
            return;
        }

        writer.WriteStartMap(null);
        foreach (var field in reading.EnumerateObject())
        {
            if (field.Name == "ts")
            {
                writer.WriteUInt32(0);
                WriteAny(writer, field.Value);
            }
            else if (field.Name == "m" && field.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WriteUInt32(1);
                writer.WriteStartMap(null);
                foreach (var metric in field.Value.EnumerateObject())
                {
                    var index = Array.FindIndex(MetricCatalogue.All, d => d.Name == metric.Name);
                    if (index >= 0)
                    {
                        writer.WriteUInt32((uint)index);
                    }
                    else
                    {
                        writer.WriteTextString(metric.Name);
                    }

                    WriteAny(writer, metric.Value);
                }

                writer.WriteEndMap();
            }
            else
            {
                writer.WriteTextString(field.Name);
                WriteAny(writer, field.Value);
            }
        }

        writer.WriteEndMap();
    }

    private static void WriteAny(CborWriter writer, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Number when value.TryGetUInt64(out var unsigned):
                writer.WriteUInt64(unsigned);
                break;
            case JsonValueKind.Number when value.TryGetInt64(out var signed):
                writer.WriteInt64(signed);
                break;
            case JsonValueKind.Number:
                // 1e400 is infinity here, which CBOR can carry as it is; the decoder must refuse it either way.
                WriteShortestFloat(writer, double.Parse(value.GetRawText(), System.Globalization.CultureInfo.InvariantCulture));
                break;
            case JsonValueKind.String:
                writer.WriteTextString(value.GetString()!);
                break;
            case JsonValueKind.True or JsonValueKind.False:
                writer.WriteBoolean(value.GetBoolean());
                break;
            case JsonValueKind.Null:
                writer.WriteNull();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray(value.GetArrayLength());
                foreach (var item in value.EnumerateArray())
                {
                    WriteAny(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                writer.WriteStartMap(null);
                foreach (var field in value.EnumerateObject())
                {
                    writer.WriteTextString(field.Name);
                    WriteAny(writer, field.Value);
                }

                writer.WriteEndMap();
                break;
        }
    }
}
