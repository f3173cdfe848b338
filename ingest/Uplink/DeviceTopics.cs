namespace Telemetry.Ingest.Uplink;

/// <summary>Topic names of uplink v1, in one place.</summary>
internal static class DeviceTopics
{
    public const string BirthFilter = "devices/+/birth";
    public const string TelemetryFilter = "devices/+/telemetry";

    public static string Ack(string deviceId) => $"devices/{deviceId}/ack";

    public static string Errors(string deviceId) => $"devices/{deviceId}/errors";

    public static string Alerts(string deviceId) => $"alerts/{deviceId}";

    /// <summary>Parses <c>devices/{id}/birth</c> or <c>devices/{id}/telemetry</c> with a valid device id.</summary>
    public static bool TryParse(string topic, out string deviceId, out UplinkTopic kind)
    {
        deviceId = string.Empty;
        kind = default;
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
}
