namespace Telemetry.Ingest.Uplink;

/// <summary>Topic names of uplink v1, in one place.</summary>
internal static class DeviceTopics
{
    public const string BirthFilter = "devices/+/birth";
    public const string TelemetryFilter = "devices/+/telemetry";

    /// <summary>CBOR telemetry from firmware that speaks MQTT 3.1.1 and so cannot send a content type.</summary>
    public const string TelemetryCborFilter = "devices/+/telemetry/cbor";

    /// <summary>The MQTT 5 content type that marks a telemetry payload as CBOR (RFC 8949 §9.3).</summary>
    public const string CborContentType = "application/cbor";

    public static string Ack(string deviceId) => $"devices/{deviceId}/ack";

    public static string Errors(string deviceId) => $"devices/{deviceId}/errors";

    public static string Alerts(string deviceId) => $"alerts/{deviceId}";

    /// <summary>
    /// Parses <c>devices/{id}/birth</c>, <c>devices/{id}/telemetry</c> or <c>devices/{id}/telemetry/cbor</c> with a
    /// valid device id, and says how the payload is encoded: CBOR on the <c>/cbor</c> topic whatever the content
    /// type, CBOR on the telemetry topic with content type <c>application/cbor</c>, JSON otherwise (births are
    /// always JSON). Any other content type is read as JSON, the encoding every device must support.
    /// </summary>
    public static bool TryParse(string topic, string? contentType, out string deviceId, out UplinkTopic kind, out PayloadEncoding encoding)
    {
        deviceId = string.Empty;
        kind = default;
        encoding = PayloadEncoding.Json;
        var span = topic.AsSpan();
        if (!span.StartsWith("devices/"))
        {
            return false;
        }

        span = span["devices/".Length..];
        var slash = span.IndexOf('/');
        if (slash <= 0)
        {
            return false;
        }

        var id = span[..slash];
        var rest = span[(slash + 1)..];
        if (rest.SequenceEqual("telemetry"))
        {
            kind = UplinkTopic.Telemetry;
            encoding = IsCbor(contentType) ? PayloadEncoding.Cbor : PayloadEncoding.Json;
        }
        else if (rest.SequenceEqual("telemetry/cbor"))
        {
            kind = UplinkTopic.Telemetry;
            encoding = PayloadEncoding.Cbor;
        }
        else if (rest.SequenceEqual("birth"))
        {
            kind = UplinkTopic.Birth;
        }
        else
        {
            return false;
        }

        if (!UplinkIds.IsDeviceId(id))
        {
            return false;
        }

        deviceId = id.ToString();
        return true;
    }

    /// <summary>Whether an MQTT 5 content type names CBOR: media types are case-insensitive and may carry parameters.</summary>
    public static bool IsCbor(string? contentType)
    {
        if (contentType is null)
        {
            return false;
        }

        var type = contentType.AsSpan();
        var semicolon = type.IndexOf(';');
        if (semicolon >= 0)
        {
            type = type[..semicolon];
        }

        return type.Trim().Equals(CborContentType, StringComparison.OrdinalIgnoreCase);
    }
}
